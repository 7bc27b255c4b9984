//! The TLS files ringway reads itself: PEM certificate chains and private keys
//! (`tls::certs::chain`, `tls::certs::private_key`) and nginx's session ticket key files
//! (`tls::tickets::TicketKey::parse`), then tickets sealed and opened with such a key.
//!
//! - `chain`: no panic; an accepted file has at least one certificate; repeatable.
//! - `private_key`: no panic; a key is only found in a file that says `PRIVATE KEY`;
//!   repeatable. No pass phrases: an encrypted key's KDF parameters come from the file (the
//!   operator's), so a fuzzer given pass phrases spends its time in PBKDF2/scrypt; the
//!   encrypted-key parsing up to the pass phrase check still runs.
//! - `TicketKey::parse`: accepts exactly 48 and 80 bytes. The input's first 48 or 80 bytes (by
//!   the first byte's low bit, when there are 80) make a key; the rest is the plain state:
//!   `encrypt` seals it into `name ‖ nonce ‖ ciphertext ‖ tag`, `decrypt` opens it to the same
//!   bytes, also with that key second in a set (every key opens), and never with the key
//!   left out; a ticket with any byte flipped or cut short, the input itself and the rest
//!   alone never open (arbitrary bytes never panic); an empty key set seals and opens nothing.
#![no_main]

use std::sync::Arc;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use ringway::tls::certs::{chain, private_key};
use ringway::tls::tickets::{TicketKey, TicketKeys, Ticketer};
use rustls::server::ProducesTickets;

/// A second key, for key sets of two (its name is "fuzz-other-key..").
const OTHER: [u8; 80] =
    *b"fuzz-other-key..0123456789abcdef0123456789abcdef0123456789abcdefghijklmnopqrstuv";

fn ticketer(keys: Vec<TicketKey>) -> Ticketer {
    Ticketer {
        keys: Arc::new(TicketKeys::new(keys)),
        lifetime: Duration::from_secs(300),
    }
}

fn pem(data: &[u8]) {
    match chain(data) {
        Ok(certs) => assert!(!certs.is_empty(), "an empty chain accepted"),
        Err(e) => assert!(!e.is_empty()),
    }
    assert_eq!(
        chain(data).map(|c| c.len()),
        chain(data).map(|c| c.len()),
        "chain not repeatable"
    );
    let key = private_key(data, &[]);
    if key.is_ok() {
        assert!(
            data.windows(11).any(|w| w == b"PRIVATE KEY"),
            "a key from a file without a PRIVATE KEY section"
        );
    }
    let again = private_key(data, &[]);
    assert_eq!(
        key.as_ref().map(|k| k.secret_der().to_vec()),
        again.as_ref().map(|k| k.secret_der().to_vec()),
        "private_key not repeatable"
    );
}

fn tickets(data: &[u8]) {
    let parsed = TicketKey::parse(data);
    assert_eq!(
        parsed.is_ok(),
        data.len() == 48 || data.len() == 80,
        "{} bytes: {parsed:?}",
        data.len()
    );
    let n = match data.len() {
        80.. if data[0] & 1 == 1 => 80,
        48.. => 48,
        _ => return,
    };
    let (file, plain) = data.split_at(n);
    let name = &file[..16];
    let one = ticketer(vec![TicketKey::parse(file).expect("48/80 bytes parse")]);
    assert!(one.enabled());
    let sealed = one.encrypt(plain).expect("seal");
    assert_eq!(sealed.len(), 16 + 12 + plain.len() + 16);
    assert_eq!(&sealed[..16], name, "a ticket starts with its key's name");
    assert_eq!(one.decrypt(&sealed).as_deref(), Some(plain), "round trip");

    let other = || TicketKey::parse(&OTHER).unwrap();
    if name != &OTHER[..16] {
        // The key second in a set still opens; a set without it does not.
        let two = ticketer(vec![other(), TicketKey::parse(file).unwrap()]);
        assert_eq!(two.decrypt(&sealed).as_deref(), Some(plain), "second key");
        let resealed = two.encrypt(plain).expect("seal");
        assert_eq!(&resealed[..16], &OTHER[..16], "the first key seals");
        assert_eq!(one.decrypt(&resealed), None, "a key left out opens nothing");
        assert_eq!(ticketer(vec![other()]).decrypt(&sealed), None);
    }
    // Tampered and truncated tickets; arbitrary bytes.
    let at = plain.first().map_or(0, |&b| b as usize) % sealed.len();
    let mut bad = sealed.clone();
    bad[at] ^= 0x01 << (plain.len() % 8);
    assert_eq!(one.decrypt(&bad), None, "flipped byte {at} opened");
    for cut in [0, 1, 15, 16, 27, 28, 43, sealed.len() - 1] {
        if cut < sealed.len() {
            assert_eq!(one.decrypt(&sealed[..cut]), None, "cut at {cut} opened");
        }
    }
    assert_eq!(one.decrypt(data), None, "the input opened");
    assert_eq!(one.decrypt(plain), None, "the plain state opened");

    let none = ticketer(Vec::new());
    assert!(!none.enabled());
    assert_eq!(none.encrypt(plain), None);
    assert_eq!(none.decrypt(&sealed), None);
}

fuzz_target!(|data: &[u8]| {
    pem(data);
    tickets(data);
});
