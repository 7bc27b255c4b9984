//! OpenSSL cipher strings (`ssl_ciphers`, `proxy_ssl_ciphers`) through `config::ciphers`: no
//! panic; a selection lists each suite once, its rustls suites are exactly the ringway-offered
//! ones among them in the same order, evaluation is repeatable, and killing everything after an
//! accepted string leaves nothing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringway::config::ciphers::evaluate;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(sel) = evaluate(text) else {
        return;
    };
    let mut seen = std::collections::HashSet::new();
    for n in &sel.openssl {
        assert!(seen.insert(*n), "{n} twice for {text:?}");
    }
    let offered = sel.openssl.len() - sel.skipped().len();
    assert_eq!(sel.tls12.len(), offered, "{text:?}");
    assert_eq!(evaluate(text), Ok(sel), "not repeatable: {text:?}");
    let killed = evaluate(&format!("{text}:!ALL:!COMPLEMENTOFALL"))
        .unwrap_or_else(|e| panic!("{text:?} accepted, with kills appended: {e}"));
    assert!(killed.openssl.is_empty(), "{text:?}: {:?}", killed.openssl);
});
