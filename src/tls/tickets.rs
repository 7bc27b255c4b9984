//! Session ticket keys: nginx's `ssl_session_ticket_key` files, or keys ringway makes at start
//! and rotates on a schedule. Either way a key set is immutable once made: every shard holds
//! the same `Arc<TicketKeys>`, so a ticket issued on one shard decrypts on any other, and
//! rotation is a new set handed to the shards by message (never a write they could race with).
//!
//! A ticket is `key name (16) ‖ nonce (12) ‖ AES-GCM(state) ‖ tag (16)`. The file's bytes give
//! the name and the key as nginx reads them (48 bytes: name, HMAC secret, AES-128 key; 80
//! bytes: name, HMAC secret, AES-256 key); ringway seals with AES-GCM under that AES key,
//! bound to the HMAC secret by the AAD, so the same files give the same keys on every shard
//! and across restarts. (ringway's tickets are not nginx's: they resume on ringway only.)

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use ring::aead::{AES_128_GCM, AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use rustls::server::ProducesTickets;

const NAME_LEN: usize = 16;
const TAG_LEN: usize = 16;

/// One key: its name (the ticket's prefix) and its sealing key.
pub struct TicketKey {
    name: [u8; NAME_LEN],
    aad: [u8; 32],
    key: LessSafeKey,
}

impl fmt::Debug for TicketKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TicketKey({:02x?})", &self.name[..4])
    }
}

impl TicketKey {
    /// A key file's content as nginx reads it: 48 or 80 bytes.
    pub fn parse(bytes: &[u8]) -> Result<TicketKey, String> {
        let (secret_len, alg) = match bytes.len() {
            48 => (16, &AES_128_GCM),
            80 => (32, &AES_256_GCM),
            n => {
                return Err(format!(
                    "ssl_session_ticket_key file must be 48 or 80 bytes, not {n}"
                ));
            }
        };
        let mut name = [0u8; NAME_LEN];
        name.copy_from_slice(&bytes[..NAME_LEN]);
        let secret = &bytes[NAME_LEN..NAME_LEN + secret_len];
        let mut aad = [0u8; 32];
        aad[..secret_len].copy_from_slice(secret);
        let aes = &bytes[NAME_LEN + secret_len..];
        let key = UnboundKey::new(alg, aes).map_err(|_| "bad ticket key".to_string())?;
        Ok(TicketKey {
            name,
            aad,
            key: LessSafeKey::new(key),
        })
    }

    fn seal(&self, plain: &[u8]) -> Option<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        super::random::fill(&mut nonce)?;
        let mut out = Vec::with_capacity(NAME_LEN + NONCE_LEN + plain.len() + TAG_LEN);
        out.extend_from_slice(&self.name);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plain);
        let body = &mut out[NAME_LEN + NONCE_LEN..];
        let tag = self
            .key
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&self.aad),
                body,
            )
            .ok()?;
        out.extend_from_slice(tag.as_ref());
        Some(out)
    }

    fn open(&self, ticket: &[u8]) -> Option<Vec<u8>> {
        let nonce = ticket.get(NAME_LEN..NAME_LEN + NONCE_LEN)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut body = ticket.get(NAME_LEN + NONCE_LEN..)?.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(&self.aad), &mut body)
            .ok()?;
        let n = plain.len();
        body.truncate(n);
        Some(body)
    }
}

/// The keys tickets are sealed and opened with: the first seals, all open.
#[derive(Debug)]
pub struct TicketKeys {
    keys: Vec<TicketKey>,
}

impl TicketKeys {
    pub fn new(keys: Vec<TicketKey>) -> TicketKeys {
        TicketKeys { keys }
    }

    fn seal(&self, plain: &[u8]) -> Option<Vec<u8>> {
        self.keys.first()?.seal(plain)
    }

    fn open(&self, ticket: &[u8]) -> Option<Vec<u8>> {
        let name = ticket.get(..NAME_LEN)?;
        self.keys
            .iter()
            .find(|k| k.name[..] == *name)
            .and_then(|k| k.open(ticket))
    }
}

/// One server's ticketer: the shared keys and its `ssl_session_timeout` as the lifetime hint.
#[derive(Debug)]
pub struct Ticketer {
    pub keys: Arc<TicketKeys>,
    pub lifetime: Duration,
}

impl ProducesTickets for Ticketer {
    fn enabled(&self) -> bool {
        !self.keys.keys.is_empty()
    }

    fn lifetime(&self) -> u32 {
        u32::try_from(self.lifetime.as_secs()).unwrap_or(u32::MAX)
    }

    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        self.keys.seal(plain)
    }

    fn decrypt(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        self.keys.open(cipher)
    }
}

/// The rotating keys ringway makes itself (no key file): the key that seals now, the one
/// before it (tickets it sealed still open) and the next one, handed out a period ahead, so a
/// shard that rotated first issues tickets every other shard can already open.
pub struct Rotation {
    previous: Option<[u8; 80]>,
    current: [u8; 80],
    next: [u8; 80],
}

impl Rotation {
    pub fn start() -> Result<Rotation, String> {
        Ok(Rotation {
            previous: None,
            current: random80()?,
            next: random80()?,
        })
    }

    /// Moves one period on: the next key seals, a new next key is made.
    pub fn rotate(&mut self) -> Result<(), String> {
        let next = random80()?;
        self.previous = Some(self.current);
        self.current = self.next;
        self.next = next;
        Ok(())
    }

    /// The key set for the shards (sealing key first).
    pub fn keys(&self) -> Result<TicketKeys, String> {
        let mut keys = vec![
            TicketKey::parse(&self.current)?,
            TicketKey::parse(&self.next)?,
        ];
        if let Some(p) = &self.previous {
            keys.push(TicketKey::parse(p)?);
        }
        Ok(TicketKeys::new(keys))
    }
}

fn random80() -> Result<[u8; 80], String> {
    let mut bytes = [0u8; 80];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| "no randomness for ticket keys".to_string())?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(files: &[&[u8]]) -> Ticketer {
        let keys = files.iter().map(|f| TicketKey::parse(f).unwrap()).collect();
        ticketer(TicketKeys::new(keys))
    }

    fn ticketer(keys: TicketKeys) -> Ticketer {
        Ticketer {
            keys: Arc::new(keys),
            lifetime: Duration::from_secs(300),
        }
    }

    #[test]
    fn sizes_nginx_accepts() {
        assert!(TicketKey::parse(&[7u8; 48]).is_ok());
        assert!(TicketKey::parse(&[7u8; 80]).is_ok());
        let e = TicketKey::parse(&[7u8; 32]).unwrap_err();
        assert!(e.contains("48 or 80"), "{e}");
    }

    #[test]
    fn first_key_seals_every_key_opens() {
        let a = [1u8; 80];
        let b = [2u8; 48];
        let new = keys(&[&a, &b]);
        let old = keys(&[&b]);
        let t = old.encrypt(b"state").unwrap();
        assert_eq!(new.decrypt(&t).unwrap(), b"state");
        let t2 = new.encrypt(b"state2").unwrap();
        assert_eq!(&t2[..16], &a[..16]);
        assert!(old.decrypt(&t2).is_none(), "a key left out opens nothing");
    }

    #[test]
    fn tampered_and_short_tickets_fail() {
        let k = keys(&[&[3u8; 80]]);
        let mut t = k.encrypt(b"hello").unwrap();
        let last = t.len() - 1;
        t[last] ^= 1;
        assert!(k.decrypt(&t).is_none());
        for n in 0..40 {
            assert!(k.decrypt(&t[..n.min(t.len())]).is_none());
        }
    }

    #[test]
    fn rotation_keeps_previous_and_next() {
        let mut r = Rotation::start().unwrap();
        let before = ticketer(r.keys().unwrap());
        let t = before.encrypt(b"x").unwrap();
        r.rotate().unwrap();
        let after = ticketer(r.keys().unwrap());
        assert_eq!(after.decrypt(&t).unwrap(), b"x", "previous key still opens");
        let t2 = after.encrypt(b"y").unwrap();
        assert_eq!(
            before.decrypt(&t2).unwrap(),
            b"y",
            "next key was handed out early"
        );
        r.rotate().unwrap();
        r.rotate().unwrap();
        assert!(ticketer(r.keys().unwrap()).decrypt(&t).is_none());
    }
}
