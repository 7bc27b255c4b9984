//! Randomness for TLS's public per-connection values: the ServerHello random, session ticket
//! nonces and age masks, and the nonces that seal ringway's tickets. They come from a per-thread
//! ChaCha generator seeded by the kernel (rand's `ThreadRng`, reseeded every 64 KiB), as
//! OpenSSL's do from its DRBG, instead of one getrandom(2) call each: a full TLS 1.3 handshake
//! made nine such calls, seven of them for these. (ring's own key generation and ECDSA nonces
//! still ask the kernel: ring's generator cannot be replaced.)

use rand::RngCore;
use rustls::crypto::{GetRandomFailed, SecureRandom};

/// The generator rustls's provider draws from (`site::provider`).
#[derive(Debug)]
pub struct ThreadRandom;

pub static THREAD_RANDOM: ThreadRandom = ThreadRandom;

impl SecureRandom for ThreadRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), GetRandomFailed> {
        fill(buf).ok_or(GetRandomFailed)
    }
}

/// Fills `buf` from this thread's generator; None when it could not be seeded.
pub fn fill(buf: &mut [u8]) -> Option<()> {
    rand::thread_rng().try_fill_bytes(buf).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_differ_and_are_not_all_zero() {
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        fill(&mut a).unwrap();
        THREAD_RANDOM.fill(&mut b).unwrap();
        assert_ne!(a, b);
        assert_ne!(a, [0u8; 32]);
    }
}
