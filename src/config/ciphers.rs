//! OpenSSL cipher strings (`ssl_ciphers`, `proxy_ssl_ciphers`) evaluated with OpenSSL 3.0's
//! algebra over the TLS 1.2 suites OpenSSL knows, then narrowed to the ones rustls implements.
//!
//! Pure and total: any input gives a selection or an error message, never a panic (fuzzed).
//!
//! The catalogue lists the suites in the order OpenSSL 3.0 keeps them before a string is applied
//! (its "ALL" order, with the eNULL suites placed where OpenSSL places them in their key-exchange
//! group), so `A:B` orders, `+X`, `-X`, `!X` and `@STRENGTH` give the orders `openssl ciphers`
//! prints. Differences from OpenSSL, both deliberate: a token that is neither a suite nor an
//! alias is an error (OpenSSL skips it silently, so a typo goes unnoticed), and Suite B mode
//! (`SUITEB128` ...) is refused. Names of suites OpenSSL 3.0 no longer builds (RC4, DES, 3DES,
//! IDEA, SEED, export, fixed-DH, GOST ...) and aliases for them are accepted and select nothing,
//! as OpenSSL 3.0 does with them.

use super::tls::Tls12Suite;

// Key exchange.
const KRSA: u32 = 1;
const KDHE: u32 = 1 << 1;
const KECDHE: u32 = 1 << 2;
const KPSK: u32 = 1 << 3;
const KRSAPSK: u32 = 1 << 4;
const KECDHEPSK: u32 = 1 << 5;
const KDHEPSK: u32 = 1 << 6;
const KSRP: u32 = 1 << 7;
const K_ANY_PSK: u32 = KPSK | KRSAPSK | KECDHEPSK | KDHEPSK;
// Authentication.
const A_RSA: u32 = 1;
const A_DSS: u32 = 1 << 1;
const A_NULL: u32 = 1 << 2;
const A_ECDSA: u32 = 1 << 3;
const A_PSK: u32 = 1 << 4;
const A_SRP: u32 = 1 << 5;
// Bulk encryption.
const E_NULL: u32 = 1;
const E_AES128: u32 = 1 << 1;
const E_AES256: u32 = 1 << 2;
const E_AES128GCM: u32 = 1 << 3;
const E_AES256GCM: u32 = 1 << 4;
const E_AES128CCM: u32 = 1 << 5;
const E_AES256CCM: u32 = 1 << 6;
const E_AES128CCM8: u32 = 1 << 7;
const E_AES256CCM8: u32 = 1 << 8;
const E_CAMELLIA128: u32 = 1 << 9;
const E_CAMELLIA256: u32 = 1 << 10;
const E_ARIA128GCM: u32 = 1 << 11;
const E_ARIA256GCM: u32 = 1 << 12;
const E_CHACHA20: u32 = 1 << 13;
const E_AESGCM: u32 = E_AES128GCM | E_AES256GCM;
const E_AESCCM8: u32 = E_AES128CCM8 | E_AES256CCM8;
const E_AESCCM: u32 = E_AES128CCM | E_AES256CCM | E_AESCCM8;
const E_AES: u32 = E_AES128 | E_AES256 | E_AESGCM | E_AESCCM;
const E_CAMELLIA: u32 = E_CAMELLIA128 | E_CAMELLIA256;
const E_ARIA: u32 = E_ARIA128GCM | E_ARIA256GCM;
/// Bits of algorithms this build of OpenSSL (and so this catalogue) has no suite for: RC4, DES,
/// 3DES, RC2, IDEA, SEED, GOST. Their aliases select nothing.
const E_GONE: u32 = 1 << 20;
const E_CBC: u32 = E_AES128 | E_AES256 | E_CAMELLIA | E_GONE;
// MAC.
const M_MD5: u32 = 1;
const M_SHA1: u32 = 1 << 1;
const M_SHA256: u32 = 1 << 2;
const M_SHA384: u32 = 1 << 3;
const M_AEAD: u32 = 1 << 4;
const M_GONE: u32 = 1 << 20;
// The lowest protocol version a suite needs (an alias matches it exactly, as in OpenSSL).
const V_SSL3: u8 = 1;
const V_TLS1: u8 = 2;
const V_TLS12: u8 = 3;
// Strength classes (OpenSSL's SSL_STRONG_MASK bits) and the not-in-DEFAULT flag.
const S_NONE: u8 = 1;
const S_LOW: u8 = 1 << 1;
const S_MEDIUM: u8 = 1 << 2;
const S_HIGH: u8 = 1 << 3;
const S_FIPS: u8 = 1 << 4;
const S_STRONG_MASK: u8 = S_NONE | S_LOW | S_MEDIUM | S_HIGH | S_FIPS;
const S_NOT_DEFAULT: u8 = 1 << 5;

/// A TLS 1.2 (or older) suite, or an alias: which algorithms it stands for (0 = any).
#[derive(Debug, Clone, Copy)]
struct Spec {
    name: &'static str,
    kx: u32,
    au: u32,
    enc: u32,
    mac: u32,
    ver: u8,
    strength: u8,
    /// Effective key bits (`@STRENGTH` sorts on them).
    bits: u16,
}

#[allow(clippy::too_many_arguments)]
const fn c(
    name: &'static str,
    ver: u8,
    kx: u32,
    au: u32,
    enc: u32,
    mac: u32,
    strength: u8,
    bits: u16,
) -> Spec {
    Spec {
        name,
        kx,
        au,
        enc,
        mac,
        ver,
        strength,
        bits,
    }
}

const fn alias(
    name: &'static str,
    kx: u32,
    au: u32,
    enc: u32,
    mac: u32,
    ver: u8,
    strength: u8,
) -> Spec {
    Spec {
        name,
        kx,
        au,
        enc,
        mac,
        ver,
        strength,
        bits: 0,
    }
}

/// Every TLS 1.2-and-older suite OpenSSL 3.0 builds, in its order before any rule applies.
static SUITES: &[Spec] = &[
    c(
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        V_TLS12,
        KECDHE,
        A_ECDSA,
        E_AES256GCM,
        M_AEAD,
        S_HIGH | S_FIPS,
        256,
    ),
    c(
        "ECDHE-RSA-AES256-GCM-SHA384",
        V_TLS12,
        KECDHE,
        A_RSA,
        E_AES256GCM,
        M_AEAD,
        S_HIGH | S_FIPS,
        256,
    ),
    c(
        "DHE-DSS-AES256-GCM-SHA384",
        V_TLS12,
        KDHE,
        A_DSS,
        E_AES256GCM,
        M_AEAD,
        S_HIGH | S_FIPS | S_NOT_DEFAULT,
        256,
    ),
    c(
        "DHE-RSA-AES256-GCM-SHA384",
        V_TLS12,
        KDHE,
        A_RSA,
        E_AES256GCM,
        M_AEAD,
        S_HIGH | S_FIPS,
        256,
    ),
    c(
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        V_TLS12,
        KECDHE,
        A_ECDSA,
        E_CHACHA20,
        M_AEAD,
        S_HIGH,
        256,
    ),
    c(
        "ECDHE-RSA-CHACHA20-POLY1305",
        V_TLS12,
        KECDHE,
        A_RSA,
        E_CHACHA20,
        M_AEAD,
        S_HIGH,
        256,
    ),
    c(
        "DHE-RSA-CHACHA20-POLY1305",
        V_TLS12,
        KDHE,
        A_RSA,
        E_CHACHA20,
        M_AEAD,
        S_HIGH,
        256,
    ),
    c(
        "ECDHE-ECDSA-AES256-CCM8",
        V_TLS12,
        KECDHE,
        A_ECDSA,
        E_AES256CCM8,
        M_AEAD,
        S_HIGH | S_NOT_DEFAULT,
        256,
    ),
    c(
        "ECDHE-ECDSA-AES256-CCM",
        V_TLS12,
        KECDHE,
        A_ECDSA,
        E_AES256CCM,
        M_AEAD,
        S_HIGH | S_NOT_DEFAULT,
        256,
    ),
    c(
        "DHE-RSA-AES256-CCM8",
        V_TLS12,
        KDHE,
        A_RSA,
        E_AES256CCM8,
        M_AEAD,
        S_HIGH | S_NOT_DEFAULT,
        256,
    ),
    c(
        "DHE-RSA-AES256-CCM",
        V_TLS12,
        KDHE,
        A_RSA,
        E_AES256CCM,
        M_AEAD,
        S_HIGH | S_NOT_DEFAULT,
        256,
    ),
    c(
        "ECDHE-ECDSA-ARIA256-GCM-SHA384",
        V_TLS12,
        KECDHE,
        A_ECDSA,
        E_ARIA256GCM,
        M_AEAD,
        S_HIGH | S_NOT_DEFAULT,
        256,
    ),
    c(
        "ECDHE-ARIA256-GCM-SHA384",
        V_TLS12,
        KECDHE,
        A_RSA,
        E_ARIA256GCM,
        M_AEAD,
        S_HIGH | S_NOT_DEFAULT,
        256,
    ),
    c(
        "DHE-DSS-ARIA256-GCM-SHA384",
        V_TLS12,
        KDHE,
        A_DSS,
        E_ARIA256GCM,
        M_AEAD,
        S_HIGH | S_NOT_DEFAULT,
        256,
    ),
    c(
        "DHE-RSA-ARIA256-GCM-SHA384",
        V_TLS12,
        KDHE,
        A_RSA,
        E_ARIA256GCM,
        M_AEAD,
        S_HIGH | S_NOT_DEFAULT,
        256,
    ),
    c(
        "ADH-AES256-GCM-SHA384",
        V_TLS12,
        KDHE,
        A_NULL,
        E_AES256GCM,
        M_AEAD,
        S_HIGH | S_FIPS | S_NOT_DEFAULT,
        256,
    ),
    c(
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        V_TLS12,
        KECDHE,
        A_ECDSA,
        E_AES128GCM,
        M_AEAD,
        S_HIGH | S_FIPS,
        128,
    ),
    c(
        "ECDHE-RSA-AES128-GCM-SHA256",
        V_TLS12,
        KECDHE,
        A_RSA,
        E_AES128GCM,
        M_AEAD,
        S_HIGH | S_FIPS,
        128,
    ),
    c(
        "DHE-DSS-AES128-GCM-SHA256",
        V_TLS12,
        KDHE,
        A_DSS,
        E_AES128GCM,
        M_AEAD,
        S_HIGH | S_FIPS | S_NOT_DEFAULT,
        128,
    ),
    c(
        "DHE-RSA-AES128-GCM-SHA256",
        V_TLS12,
        KDHE,
        A_RSA,
        E_AES128GCM,
        M_AEAD,
        S_HIGH | S_FIPS,
        128,
    ),
    c(
        "ECDHE-ECDSA-AES128-CCM8",
        V_TLS12,
        KECDHE,
        A_ECDSA,
        E_AES128CCM8,
        M_AEAD,
        S_HIGH | S_NOT_DEFAULT,
        128,
    ),
    c(
        "ECDHE-ECDSA-AES128-CCM",
        V_TLS12,
        KECDHE,
        A_ECDSA,
        E_AES128CCM,
        M_AEAD,
        S_HIGH | S_NOT_DEFAULT,
        128,
    ),
    c(
        "DHE-RSA-AES128-CCM8",
        V_TLS12,
        KDHE,
        A_RSA,
        E_AES128CCM8,
        M_AEAD,
        S_HIGH | S_NOT_DEFAULT,
        128,
    ),
    c(
        "DHE-RSA-AES128-CCM",
        V_TLS12,
        KDHE,
        A_RSA,
        E_AES128CCM,
        M_AEAD,
        S_HIGH | S_NOT_DEFAULT,
        128,
    ),
    c(
        "ECDHE-ECDSA-ARIA128-GCM-SHA256",
        V_TLS12,
        KECDHE,
        A_ECDSA,
        E_ARIA128GCM,
        M_AEAD,
        S_HIGH | S_NOT_DEFAULT,
        128,
    ),
    c(
        "ECDHE-ARIA128-GCM-SHA256",
        V_TLS12,
        KECDHE,
        A_RSA,
        E_ARIA128GCM,
        M_AEAD,
        S_HIGH | S_NOT_DEFAULT,
        128,
    ),
    c(
        "DHE-DSS-ARIA128-GCM-SHA256",
        V_TLS12,
        KDHE,
        A_DSS,
        E_ARIA128GCM,
        M_AEAD,
        S_HIGH | S_NOT_DEFAULT,
        128,
    ),
    c(
        "DHE-RSA-ARIA128-GCM-SHA256",
        V_TLS12,
        KDHE,
        A_RSA,
        E_ARIA128GCM,
        M_AEAD,
        S_HIGH | S_NOT_DEFAULT,
        128,
    ),
    c(
        "ADH-AES128-GCM-SHA256",
        V_TLS12,
        KDHE,
        A_NULL,
        E_AES128GCM,
        M_AEAD,
        S_HIGH | S_FIPS | S_NOT_DEFAULT,
        128,
    ),
    c(
        "ECDHE-ECDSA-AES256-SHA384",
        V_TLS12,
        KECDHE,
        A_ECDSA,
        E_AES256,
        M_SHA384,
        S_HIGH | S_FIPS,
        256,
    ),
    c(
        "ECDHE-RSA-AES256-SHA384",
        V_TLS12,
        KECDHE,
        A_RSA,
        E_AES256,
        M_SHA384,
        S_HIGH | S_FIPS,
        256,
    ),
    c(
        "DHE-RSA-AES256-SHA256",
        V_TLS12,
        KDHE,
        A_RSA,
        E_AES256,
        M_SHA256,
        S_HIGH | S_FIPS,
        256,
    ),
    c(
        "DHE-DSS-AES256-SHA256",
        V_TLS12,
        KDHE,
        A_DSS,
        E_AES256,
        M_SHA256,
        S_HIGH | S_FIPS | S_NOT_DEFAULT,
        256,
    ),
    c(
        "ECDHE-ECDSA-CAMELLIA256-SHA384",
        V_TLS12,
        KECDHE,
        A_ECDSA,
        E_CAMELLIA256,
        M_SHA384,
        S_HIGH | S_NOT_DEFAULT,
        256,
    ),
    c(
        "ECDHE-RSA-CAMELLIA256-SHA384",
        V_TLS12,
        KECDHE,
        A_RSA,
        E_CAMELLIA256,
        M_SHA384,
        S_HIGH | S_NOT_DEFAULT,
        256,
    ),
    c(
        "DHE-RSA-CAMELLIA256-SHA256",
        V_TLS12,
        KDHE,
        A_RSA,
        E_CAMELLIA256,
        M_SHA256,
        S_HIGH | S_NOT_DEFAULT,
        256,
    ),
    c(
        "DHE-DSS-CAMELLIA256-SHA256",
        V_TLS12,
        KDHE,
        A_DSS,
        E_CAMELLIA256,
        M_SHA256,
        S_HIGH | S_NOT_DEFAULT,
        256,
    ),
    c(
        "ADH-AES256-SHA256",
        V_TLS12,
        KDHE,
        A_NULL,
        E_AES256,
        M_SHA256,
        S_HIGH | S_FIPS | S_NOT_DEFAULT,
        256,
    ),
    c(
        "ADH-CAMELLIA256-SHA256",
        V_TLS12,
        KDHE,
        A_NULL,
        E_CAMELLIA256,
        M_SHA256,
        S_HIGH | S_NOT_DEFAULT,
        256,
    ),
    c(
        "ECDHE-ECDSA-AES128-SHA256",
        V_TLS12,
        KECDHE,
        A_ECDSA,
        E_AES128,
        M_SHA256,
        S_HIGH | S_FIPS,
        128,
    ),
    c(
        "ECDHE-RSA-AES128-SHA256",
        V_TLS12,
        KECDHE,
        A_RSA,
        E_AES128,
        M_SHA256,
        S_HIGH | S_FIPS,
        128,
    ),
    c(
        "DHE-RSA-AES128-SHA256",
        V_TLS12,
        KDHE,
        A_RSA,
        E_AES128,
        M_SHA256,
        S_HIGH | S_FIPS,
        128,
    ),
    c(
        "DHE-DSS-AES128-SHA256",
        V_TLS12,
        KDHE,
        A_DSS,
        E_AES128,
        M_SHA256,
        S_HIGH | S_FIPS | S_NOT_DEFAULT,
        128,
    ),
    c(
        "ECDHE-ECDSA-CAMELLIA128-SHA256",
        V_TLS12,
        KECDHE,
        A_ECDSA,
        E_CAMELLIA128,
        M_SHA256,
        S_HIGH | S_NOT_DEFAULT,
        128,
    ),
    c(
        "ECDHE-RSA-CAMELLIA128-SHA256",
        V_TLS12,
        KECDHE,
        A_RSA,
        E_CAMELLIA128,
        M_SHA256,
        S_HIGH | S_NOT_DEFAULT,
        128,
    ),
    c(
        "DHE-RSA-CAMELLIA128-SHA256",
        V_TLS12,
        KDHE,
        A_RSA,
        E_CAMELLIA128,
        M_SHA256,
        S_HIGH | S_NOT_DEFAULT,
        128,
    ),
    c(
        "DHE-DSS-CAMELLIA128-SHA256",
        V_TLS12,
        KDHE,
        A_DSS,
        E_CAMELLIA128,
        M_SHA256,
        S_HIGH | S_NOT_DEFAULT,
        128,
    ),
    c(
        "ADH-AES128-SHA256",
        V_TLS12,
        KDHE,
        A_NULL,
        E_AES128,
        M_SHA256,
        S_HIGH | S_FIPS | S_NOT_DEFAULT,
        128,
    ),
    c(
        "ADH-CAMELLIA128-SHA256",
        V_TLS12,
        KDHE,
        A_NULL,
        E_CAMELLIA128,
        M_SHA256,
        S_HIGH | S_NOT_DEFAULT,
        128,
    ),
    c(
        "ECDHE-ECDSA-AES256-SHA",
        V_TLS1,
        KECDHE,
        A_ECDSA,
        E_AES256,
        M_SHA1,
        S_HIGH | S_FIPS,
        256,
    ),
    c(
        "ECDHE-RSA-AES256-SHA",
        V_TLS1,
        KECDHE,
        A_RSA,
        E_AES256,
        M_SHA1,
        S_HIGH | S_FIPS,
        256,
    ),
    c(
        "DHE-RSA-AES256-SHA",
        V_SSL3,
        KDHE,
        A_RSA,
        E_AES256,
        M_SHA1,
        S_HIGH | S_FIPS,
        256,
    ),
    c(
        "DHE-DSS-AES256-SHA",
        V_SSL3,
        KDHE,
        A_DSS,
        E_AES256,
        M_SHA1,
        S_HIGH | S_FIPS | S_NOT_DEFAULT,
        256,
    ),
    c(
        "DHE-RSA-CAMELLIA256-SHA",
        V_SSL3,
        KDHE,
        A_RSA,
        E_CAMELLIA256,
        M_SHA1,
        S_HIGH | S_NOT_DEFAULT,
        256,
    ),
    c(
        "DHE-DSS-CAMELLIA256-SHA",
        V_SSL3,
        KDHE,
        A_DSS,
        E_CAMELLIA256,
        M_SHA1,
        S_HIGH | S_NOT_DEFAULT,
        256,
    ),
    c(
        "AECDH-AES256-SHA",
        V_TLS1,
        KECDHE,
        A_NULL,
        E_AES256,
        M_SHA1,
        S_HIGH | S_FIPS | S_NOT_DEFAULT,
        256,
    ),
    c(
        "ADH-AES256-SHA",
        V_SSL3,
        KDHE,
        A_NULL,
        E_AES256,
        M_SHA1,
        S_HIGH | S_FIPS | S_NOT_DEFAULT,
        256,
    ),
    c(
        "ADH-CAMELLIA256-SHA",
        V_SSL3,
        KDHE,
        A_NULL,
        E_CAMELLIA256,
        M_SHA1,
        S_HIGH | S_NOT_DEFAULT,
        256,
    ),
    c(
        "ECDHE-ECDSA-AES128-SHA",
        V_TLS1,
        KECDHE,
        A_ECDSA,
        E_AES128,
        M_SHA1,
        S_HIGH | S_FIPS,
        128,
    ),
    c(
        "ECDHE-RSA-AES128-SHA",
        V_TLS1,
        KECDHE,
        A_RSA,
        E_AES128,
        M_SHA1,
        S_HIGH | S_FIPS,
        128,
    ),
    c(
        "DHE-RSA-AES128-SHA",
        V_SSL3,
        KDHE,
        A_RSA,
        E_AES128,
        M_SHA1,
        S_HIGH | S_FIPS,
        128,
    ),
    c(
        "DHE-DSS-AES128-SHA",
        V_SSL3,
        KDHE,
        A_DSS,
        E_AES128,
        M_SHA1,
        S_HIGH | S_FIPS | S_NOT_DEFAULT,
        128,
    ),
    c(
        "DHE-RSA-CAMELLIA128-SHA",
        V_SSL3,
        KDHE,
        A_RSA,
        E_CAMELLIA128,
        M_SHA1,
        S_HIGH | S_NOT_DEFAULT,
        128,
    ),
    c(
        "DHE-DSS-CAMELLIA128-SHA",
        V_SSL3,
        KDHE,
        A_DSS,
        E_CAMELLIA128,
        M_SHA1,
        S_HIGH | S_NOT_DEFAULT,
        128,
    ),
    c(
        "AECDH-AES128-SHA",
        V_TLS1,
        KECDHE,
        A_NULL,
        E_AES128,
        M_SHA1,
        S_HIGH | S_FIPS | S_NOT_DEFAULT,
        128,
    ),
    c(
        "ADH-AES128-SHA",
        V_SSL3,
        KDHE,
        A_NULL,
        E_AES128,
        M_SHA1,
        S_HIGH | S_FIPS | S_NOT_DEFAULT,
        128,
    ),
    c(
        "ADH-CAMELLIA128-SHA",
        V_SSL3,
        KDHE,
        A_NULL,
        E_CAMELLIA128,
        M_SHA1,
        S_HIGH | S_NOT_DEFAULT,
        128,
    ),
    c(
        "ECDHE-ECDSA-NULL-SHA",
        V_TLS1,
        KECDHE,
        A_ECDSA,
        E_NULL,
        M_SHA1,
        S_NONE,
        0,
    ),
    c(
        "ECDHE-RSA-NULL-SHA",
        V_TLS1,
        KECDHE,
        A_RSA,
        E_NULL,
        M_SHA1,
        S_NONE,
        0,
    ),
    c(
        "RSA-PSK-AES256-GCM-SHA384",
        V_TLS12,
        KRSAPSK,
        A_RSA,
        E_AES256GCM,
        M_AEAD,
        S_HIGH | S_FIPS,
        256,
    ),
    c(
        "DHE-PSK-AES256-GCM-SHA384",
        V_TLS12,
        KDHEPSK,
        A_PSK,
        E_AES256GCM,
        M_AEAD,
        S_HIGH | S_FIPS,
        256,
    ),
    c(
        "RSA-PSK-CHACHA20-POLY1305",
        V_TLS12,
        KRSAPSK,
        A_RSA,
        E_CHACHA20,
        M_AEAD,
        S_HIGH,
        256,
    ),
    c(
        "DHE-PSK-CHACHA20-POLY1305",
        V_TLS12,
        KDHEPSK,
        A_PSK,
        E_CHACHA20,
        M_AEAD,
        S_HIGH,
        256,
    ),
    c(
        "ECDHE-PSK-CHACHA20-POLY1305",
        V_TLS12,
        KECDHEPSK,
        A_PSK,
        E_CHACHA20,
        M_AEAD,
        S_HIGH,
        256,
    ),
    c(
        "DHE-PSK-AES256-CCM8",
        V_TLS12,
        KDHEPSK,
        A_PSK,
        E_AES256CCM8,
        M_AEAD,
        S_HIGH | S_NOT_DEFAULT,
        256,
    ),
    c(
        "DHE-PSK-AES256-CCM",
        V_TLS12,
        KDHEPSK,
        A_PSK,
        E_AES256CCM,
        M_AEAD,
        S_HIGH | S_NOT_DEFAULT,
        256,
    ),
    c(
        "RSA-PSK-ARIA256-GCM-SHA384",
        V_TLS12,
        KRSAPSK,
        A_RSA,
        E_ARIA256GCM,
        M_AEAD,
        S_HIGH | S_NOT_DEFAULT,
        256,
    ),
    c(
        "DHE-PSK-ARIA256-GCM-SHA384",
        V_TLS12,
        KDHEPSK,
        A_PSK,
        E_ARIA256GCM,
        M_AEAD,
        S_HIGH | S_NOT_DEFAULT,
        256,
    ),
    c(
        "AES256-GCM-SHA384",
        V_TLS12,
        KRSA,
        A_RSA,
        E_AES256GCM,
        M_AEAD,
        S_HIGH | S_FIPS,
        256,
    ),
    c(
        "AES256-CCM8",
        V_TLS12,
        KRSA,
        A_RSA,
        E_AES256CCM8,
        M_AEAD,
        S_HIGH | S_NOT_DEFAULT,
        256,
    ),
    c(
        "AES256-CCM",
        V_TLS12,
        KRSA,
        A_RSA,
        E_AES256CCM,
        M_AEAD,
        S_HIGH | S_NOT_DEFAULT,
        256,
    ),
    c(
        "ARIA256-GCM-SHA384",
        V_TLS12,
        KRSA,
        A_RSA,
        E_ARIA256GCM,
        M_AEAD,
        S_HIGH | S_NOT_DEFAULT,
        256,
    ),
    c(
        "PSK-AES256-GCM-SHA384",
        V_TLS12,
        KPSK,
        A_PSK,
        E_AES256GCM,
        M_AEAD,
        S_HIGH | S_FIPS,
        256,
    ),
    c(
        "PSK-CHACHA20-POLY1305",
        V_TLS12,
        KPSK,
        A_PSK,
        E_CHACHA20,
        M_AEAD,
        S_HIGH,
        256,
    ),
    c(
        "PSK-AES256-CCM8",
        V_TLS12,
        KPSK,
        A_PSK,
        E_AES256CCM8,
        M_AEAD,
        S_HIGH | S_NOT_DEFAULT,
        256,
    ),
    c(
        "PSK-AES256-CCM",
        V_TLS12,
        KPSK,
        A_PSK,
        E_AES256CCM,
        M_AEAD,
        S_HIGH | S_NOT_DEFAULT,
        256,
    ),
    c(
        "PSK-ARIA256-GCM-SHA384",
        V_TLS12,
        KPSK,
        A_PSK,
        E_ARIA256GCM,
        M_AEAD,
        S_HIGH | S_NOT_DEFAULT,
        256,
    ),
    c(
        "RSA-PSK-AES128-GCM-SHA256",
        V_TLS12,
        KRSAPSK,
        A_RSA,
        E_AES128GCM,
        M_AEAD,
        S_HIGH | S_FIPS,
        128,
    ),
    c(
        "DHE-PSK-AES128-GCM-SHA256",
        V_TLS12,
        KDHEPSK,
        A_PSK,
        E_AES128GCM,
        M_AEAD,
        S_HIGH | S_FIPS,
        128,
    ),
    c(
        "DHE-PSK-AES128-CCM8",
        V_TLS12,
        KDHEPSK,
        A_PSK,
        E_AES128CCM8,
        M_AEAD,
        S_HIGH | S_NOT_DEFAULT,
        128,
    ),
    c(
        "DHE-PSK-AES128-CCM",
        V_TLS12,
        KDHEPSK,
        A_PSK,
        E_AES128CCM,
        M_AEAD,
        S_HIGH | S_NOT_DEFAULT,
        128,
    ),
    c(
        "RSA-PSK-ARIA128-GCM-SHA256",
        V_TLS12,
        KRSAPSK,
        A_RSA,
        E_ARIA128GCM,
        M_AEAD,
        S_HIGH | S_NOT_DEFAULT,
        128,
    ),
    c(
        "DHE-PSK-ARIA128-GCM-SHA256",
        V_TLS12,
        KDHEPSK,
        A_PSK,
        E_ARIA128GCM,
        M_AEAD,
        S_HIGH | S_NOT_DEFAULT,
        128,
    ),
    c(
        "AES128-GCM-SHA256",
        V_TLS12,
        KRSA,
        A_RSA,
        E_AES128GCM,
        M_AEAD,
        S_HIGH | S_FIPS,
        128,
    ),
    c(
        "AES128-CCM8",
        V_TLS12,
        KRSA,
        A_RSA,
        E_AES128CCM8,
        M_AEAD,
        S_HIGH | S_NOT_DEFAULT,
        128,
    ),
    c(
        "AES128-CCM",
        V_TLS12,
        KRSA,
        A_RSA,
        E_AES128CCM,
        M_AEAD,
        S_HIGH | S_NOT_DEFAULT,
        128,
    ),
    c(
        "ARIA128-GCM-SHA256",
        V_TLS12,
        KRSA,
        A_RSA,
        E_ARIA128GCM,
        M_AEAD,
        S_HIGH | S_NOT_DEFAULT,
        128,
    ),
    c(
        "PSK-AES128-GCM-SHA256",
        V_TLS12,
        KPSK,
        A_PSK,
        E_AES128GCM,
        M_AEAD,
        S_HIGH | S_FIPS,
        128,
    ),
    c(
        "PSK-AES128-CCM8",
        V_TLS12,
        KPSK,
        A_PSK,
        E_AES128CCM8,
        M_AEAD,
        S_HIGH | S_NOT_DEFAULT,
        128,
    ),
    c(
        "PSK-AES128-CCM",
        V_TLS12,
        KPSK,
        A_PSK,
        E_AES128CCM,
        M_AEAD,
        S_HIGH | S_NOT_DEFAULT,
        128,
    ),
    c(
        "PSK-ARIA128-GCM-SHA256",
        V_TLS12,
        KPSK,
        A_PSK,
        E_ARIA128GCM,
        M_AEAD,
        S_HIGH | S_NOT_DEFAULT,
        128,
    ),
    c(
        "AES256-SHA256",
        V_TLS12,
        KRSA,
        A_RSA,
        E_AES256,
        M_SHA256,
        S_HIGH | S_FIPS,
        256,
    ),
    c(
        "CAMELLIA256-SHA256",
        V_TLS12,
        KRSA,
        A_RSA,
        E_CAMELLIA256,
        M_SHA256,
        S_HIGH | S_NOT_DEFAULT,
        256,
    ),
    c(
        "AES128-SHA256",
        V_TLS12,
        KRSA,
        A_RSA,
        E_AES128,
        M_SHA256,
        S_HIGH | S_FIPS,
        128,
    ),
    c(
        "CAMELLIA128-SHA256",
        V_TLS12,
        KRSA,
        A_RSA,
        E_CAMELLIA128,
        M_SHA256,
        S_HIGH | S_NOT_DEFAULT,
        128,
    ),
    c(
        "AECDH-NULL-SHA",
        V_TLS1,
        KECDHE,
        A_NULL,
        E_NULL,
        M_SHA1,
        S_NONE,
        0,
    ),
    c(
        "ECDHE-PSK-AES256-CBC-SHA384",
        V_TLS1,
        KECDHEPSK,
        A_PSK,
        E_AES256,
        M_SHA384,
        S_HIGH | S_FIPS,
        256,
    ),
    c(
        "ECDHE-PSK-AES256-CBC-SHA",
        V_TLS1,
        KECDHEPSK,
        A_PSK,
        E_AES256,
        M_SHA1,
        S_HIGH | S_FIPS,
        256,
    ),
    c(
        "SRP-DSS-AES-256-CBC-SHA",
        V_SSL3,
        KSRP,
        A_DSS,
        E_AES256,
        M_SHA1,
        S_HIGH | S_NOT_DEFAULT,
        256,
    ),
    c(
        "NULL-SHA256",
        V_TLS12,
        KRSA,
        A_RSA,
        E_NULL,
        M_SHA256,
        S_NONE,
        0,
    ),
    c(
        "SRP-RSA-AES-256-CBC-SHA",
        V_SSL3,
        KSRP,
        A_RSA,
        E_AES256,
        M_SHA1,
        S_HIGH,
        256,
    ),
    c(
        "SRP-AES-256-CBC-SHA",
        V_SSL3,
        KSRP,
        A_SRP,
        E_AES256,
        M_SHA1,
        S_HIGH,
        256,
    ),
    c(
        "RSA-PSK-AES256-CBC-SHA384",
        V_TLS1,
        KRSAPSK,
        A_RSA,
        E_AES256,
        M_SHA384,
        S_HIGH | S_FIPS,
        256,
    ),
    c(
        "DHE-PSK-AES256-CBC-SHA384",
        V_TLS1,
        KDHEPSK,
        A_PSK,
        E_AES256,
        M_SHA384,
        S_HIGH | S_FIPS,
        256,
    ),
    c(
        "RSA-PSK-AES256-CBC-SHA",
        V_SSL3,
        KRSAPSK,
        A_RSA,
        E_AES256,
        M_SHA1,
        S_HIGH | S_FIPS,
        256,
    ),
    c(
        "DHE-PSK-AES256-CBC-SHA",
        V_SSL3,
        KDHEPSK,
        A_PSK,
        E_AES256,
        M_SHA1,
        S_HIGH | S_FIPS,
        256,
    ),
    c(
        "ECDHE-PSK-CAMELLIA256-SHA384",
        V_TLS1,
        KECDHEPSK,
        A_PSK,
        E_CAMELLIA256,
        M_SHA384,
        S_HIGH | S_NOT_DEFAULT,
        256,
    ),
    c(
        "RSA-PSK-CAMELLIA256-SHA384",
        V_TLS1,
        KRSAPSK,
        A_RSA,
        E_CAMELLIA256,
        M_SHA384,
        S_HIGH | S_NOT_DEFAULT,
        256,
    ),
    c(
        "DHE-PSK-CAMELLIA256-SHA384",
        V_TLS1,
        KDHEPSK,
        A_PSK,
        E_CAMELLIA256,
        M_SHA384,
        S_HIGH | S_NOT_DEFAULT,
        256,
    ),
    c(
        "AES256-SHA",
        V_SSL3,
        KRSA,
        A_RSA,
        E_AES256,
        M_SHA1,
        S_HIGH | S_FIPS,
        256,
    ),
    c(
        "CAMELLIA256-SHA",
        V_SSL3,
        KRSA,
        A_RSA,
        E_CAMELLIA256,
        M_SHA1,
        S_HIGH | S_NOT_DEFAULT,
        256,
    ),
    c(
        "PSK-AES256-CBC-SHA384",
        V_TLS1,
        KPSK,
        A_PSK,
        E_AES256,
        M_SHA384,
        S_HIGH | S_FIPS,
        256,
    ),
    c(
        "PSK-AES256-CBC-SHA",
        V_SSL3,
        KPSK,
        A_PSK,
        E_AES256,
        M_SHA1,
        S_HIGH | S_FIPS,
        256,
    ),
    c(
        "PSK-CAMELLIA256-SHA384",
        V_TLS1,
        KPSK,
        A_PSK,
        E_CAMELLIA256,
        M_SHA384,
        S_HIGH | S_NOT_DEFAULT,
        256,
    ),
    c(
        "ECDHE-PSK-AES128-CBC-SHA256",
        V_TLS1,
        KECDHEPSK,
        A_PSK,
        E_AES128,
        M_SHA256,
        S_HIGH | S_FIPS,
        128,
    ),
    c(
        "ECDHE-PSK-AES128-CBC-SHA",
        V_TLS1,
        KECDHEPSK,
        A_PSK,
        E_AES128,
        M_SHA1,
        S_HIGH | S_FIPS,
        128,
    ),
    c(
        "SRP-DSS-AES-128-CBC-SHA",
        V_SSL3,
        KSRP,
        A_DSS,
        E_AES128,
        M_SHA1,
        S_HIGH | S_NOT_DEFAULT,
        128,
    ),
    c(
        "SRP-RSA-AES-128-CBC-SHA",
        V_SSL3,
        KSRP,
        A_RSA,
        E_AES128,
        M_SHA1,
        S_HIGH,
        128,
    ),
    c(
        "SRP-AES-128-CBC-SHA",
        V_SSL3,
        KSRP,
        A_SRP,
        E_AES128,
        M_SHA1,
        S_HIGH,
        128,
    ),
    c(
        "RSA-PSK-AES128-CBC-SHA256",
        V_TLS1,
        KRSAPSK,
        A_RSA,
        E_AES128,
        M_SHA256,
        S_HIGH | S_FIPS,
        128,
    ),
    c(
        "DHE-PSK-AES128-CBC-SHA256",
        V_TLS1,
        KDHEPSK,
        A_PSK,
        E_AES128,
        M_SHA256,
        S_HIGH | S_FIPS,
        128,
    ),
    c(
        "RSA-PSK-AES128-CBC-SHA",
        V_SSL3,
        KRSAPSK,
        A_RSA,
        E_AES128,
        M_SHA1,
        S_HIGH | S_FIPS,
        128,
    ),
    c(
        "DHE-PSK-AES128-CBC-SHA",
        V_SSL3,
        KDHEPSK,
        A_PSK,
        E_AES128,
        M_SHA1,
        S_HIGH | S_FIPS,
        128,
    ),
    c(
        "ECDHE-PSK-CAMELLIA128-SHA256",
        V_TLS1,
        KECDHEPSK,
        A_PSK,
        E_CAMELLIA128,
        M_SHA256,
        S_HIGH | S_NOT_DEFAULT,
        128,
    ),
    c(
        "RSA-PSK-CAMELLIA128-SHA256",
        V_TLS1,
        KRSAPSK,
        A_RSA,
        E_CAMELLIA128,
        M_SHA256,
        S_HIGH | S_NOT_DEFAULT,
        128,
    ),
    c(
        "DHE-PSK-CAMELLIA128-SHA256",
        V_TLS1,
        KDHEPSK,
        A_PSK,
        E_CAMELLIA128,
        M_SHA256,
        S_HIGH | S_NOT_DEFAULT,
        128,
    ),
    c(
        "AES128-SHA",
        V_SSL3,
        KRSA,
        A_RSA,
        E_AES128,
        M_SHA1,
        S_HIGH | S_FIPS,
        128,
    ),
    c(
        "CAMELLIA128-SHA",
        V_SSL3,
        KRSA,
        A_RSA,
        E_CAMELLIA128,
        M_SHA1,
        S_HIGH | S_NOT_DEFAULT,
        128,
    ),
    c(
        "PSK-AES128-CBC-SHA256",
        V_TLS1,
        KPSK,
        A_PSK,
        E_AES128,
        M_SHA256,
        S_HIGH | S_FIPS,
        128,
    ),
    c(
        "PSK-AES128-CBC-SHA",
        V_SSL3,
        KPSK,
        A_PSK,
        E_AES128,
        M_SHA1,
        S_HIGH | S_FIPS,
        128,
    ),
    c(
        "PSK-CAMELLIA128-SHA256",
        V_TLS1,
        KPSK,
        A_PSK,
        E_CAMELLIA128,
        M_SHA256,
        S_HIGH | S_NOT_DEFAULT,
        128,
    ),
    c(
        "ECDHE-PSK-NULL-SHA384",
        V_TLS1,
        KECDHEPSK,
        A_PSK,
        E_NULL,
        M_SHA384,
        S_NONE,
        0,
    ),
    c(
        "ECDHE-PSK-NULL-SHA256",
        V_TLS1,
        KECDHEPSK,
        A_PSK,
        E_NULL,
        M_SHA256,
        S_NONE,
        0,
    ),
    c(
        "ECDHE-PSK-NULL-SHA",
        V_TLS1,
        KECDHEPSK,
        A_PSK,
        E_NULL,
        M_SHA1,
        S_NONE,
        0,
    ),
    c(
        "RSA-PSK-NULL-SHA384",
        V_TLS1,
        KRSAPSK,
        A_RSA,
        E_NULL,
        M_SHA384,
        S_NONE,
        0,
    ),
    c(
        "RSA-PSK-NULL-SHA256",
        V_TLS1,
        KRSAPSK,
        A_RSA,
        E_NULL,
        M_SHA256,
        S_NONE,
        0,
    ),
    c(
        "DHE-PSK-NULL-SHA384",
        V_TLS1,
        KDHEPSK,
        A_PSK,
        E_NULL,
        M_SHA384,
        S_NONE,
        0,
    ),
    c(
        "DHE-PSK-NULL-SHA256",
        V_TLS1,
        KDHEPSK,
        A_PSK,
        E_NULL,
        M_SHA256,
        S_NONE,
        0,
    ),
    c(
        "RSA-PSK-NULL-SHA",
        V_SSL3,
        KRSAPSK,
        A_RSA,
        E_NULL,
        M_SHA1,
        S_NONE,
        0,
    ),
    c(
        "DHE-PSK-NULL-SHA",
        V_SSL3,
        KDHEPSK,
        A_PSK,
        E_NULL,
        M_SHA1,
        S_NONE,
        0,
    ),
    c("NULL-SHA", V_SSL3, KRSA, A_RSA, E_NULL, M_SHA1, S_NONE, 0),
    c("NULL-MD5", V_SSL3, KRSA, A_RSA, E_NULL, M_MD5, S_NONE, 0),
    c(
        "PSK-NULL-SHA384",
        V_TLS1,
        KPSK,
        A_PSK,
        E_NULL,
        M_SHA384,
        S_NONE,
        0,
    ),
    c(
        "PSK-NULL-SHA256",
        V_TLS1,
        KPSK,
        A_PSK,
        E_NULL,
        M_SHA256,
        S_NONE,
        0,
    ),
    c(
        "PSK-NULL-SHA",
        V_SSL3,
        KPSK,
        A_PSK,
        E_NULL,
        M_SHA1,
        S_NONE,
        0,
    ),
];

/// OpenSSL 3.0's aliases (`ALL` leaves out eNULL; `COMPLEMENTOFDEFAULT` is what DEFAULT leaves
/// out of ALL).
static ALIASES: &[Spec] = &[
    alias("ALL", 0, 0, !E_NULL, 0, 0, 0),
    alias("COMPLEMENTOFALL", 0, 0, E_NULL, 0, 0, 0),
    alias("COMPLEMENTOFDEFAULT", 0, 0, 0, 0, 0, S_NOT_DEFAULT),
    alias("kRSA", KRSA, 0, 0, 0, 0, 0),
    alias("kEDH", KDHE, 0, 0, 0, 0, 0),
    alias("kDHE", KDHE, 0, 0, 0, 0, 0),
    alias("DH", KDHE, 0, 0, 0, 0, 0),
    alias("kEECDH", KECDHE, 0, 0, 0, 0, 0),
    alias("kECDHE", KECDHE, 0, 0, 0, 0, 0),
    alias("ECDH", KECDHE, 0, 0, 0, 0, 0),
    alias("kPSK", KPSK, 0, 0, 0, 0, 0),
    alias("kRSAPSK", KRSAPSK, 0, 0, 0, 0, 0),
    alias("kECDHEPSK", KECDHEPSK, 0, 0, 0, 0, 0),
    alias("kDHEPSK", KDHEPSK, 0, 0, 0, 0, 0),
    alias("kSRP", KSRP, 0, 0, 0, 0, 0),
    alias("aRSA", 0, A_RSA, 0, 0, 0, 0),
    alias("aDSS", 0, A_DSS, 0, 0, 0, 0),
    alias("DSS", 0, A_DSS, 0, 0, 0, 0),
    alias("aNULL", 0, A_NULL, 0, 0, 0, 0),
    alias("aECDSA", 0, A_ECDSA, 0, 0, 0, 0),
    alias("ECDSA", 0, A_ECDSA, 0, 0, 0, 0),
    alias("aPSK", 0, A_PSK, 0, 0, 0, 0),
    alias("aSRP", 0, A_SRP, 0, 0, 0, 0),
    alias("EDH", KDHE, !A_NULL, 0, 0, 0, 0),
    alias("DHE", KDHE, !A_NULL, 0, 0, 0, 0),
    alias("EECDH", KECDHE, !A_NULL, 0, 0, 0, 0),
    alias("ECDHE", KECDHE, !A_NULL, 0, 0, 0, 0),
    alias("NULL", 0, 0, E_NULL, 0, 0, 0),
    alias("RSA", KRSA, A_RSA, 0, 0, 0, 0),
    alias("ADH", KDHE, A_NULL, 0, 0, 0, 0),
    alias("AECDH", KECDHE, A_NULL, 0, 0, 0, 0),
    alias("PSK", K_ANY_PSK, 0, 0, 0, 0, 0),
    alias("SRP", KSRP, 0, 0, 0, 0, 0),
    alias("eNULL", 0, 0, E_NULL, 0, 0, 0),
    alias(
        "AES128",
        0,
        0,
        E_AES128 | E_AES128GCM | E_AES128CCM | E_AES128CCM8,
        0,
        0,
        0,
    ),
    alias(
        "AES256",
        0,
        0,
        E_AES256 | E_AES256GCM | E_AES256CCM | E_AES256CCM8,
        0,
        0,
        0,
    ),
    alias("AES", 0, 0, E_AES, 0, 0, 0),
    alias("AESGCM", 0, 0, E_AESGCM, 0, 0, 0),
    alias("AESCCM", 0, 0, E_AESCCM, 0, 0, 0),
    alias("AESCCM8", 0, 0, E_AESCCM8, 0, 0, 0),
    alias("CAMELLIA128", 0, 0, E_CAMELLIA128, 0, 0, 0),
    alias("CAMELLIA256", 0, 0, E_CAMELLIA256, 0, 0, 0),
    alias("CAMELLIA", 0, 0, E_CAMELLIA, 0, 0, 0),
    alias("CHACHA20", 0, 0, E_CHACHA20, 0, 0, 0),
    alias("ARIA", 0, 0, E_ARIA, 0, 0, 0),
    alias("ARIAGCM", 0, 0, E_ARIA, 0, 0, 0),
    alias("ARIA128", 0, 0, E_ARIA128GCM, 0, 0, 0),
    alias("ARIA256", 0, 0, E_ARIA256GCM, 0, 0, 0),
    alias("CBC", 0, 0, E_CBC, 0, 0, 0),
    alias("MD5", 0, 0, 0, M_MD5, 0, 0),
    alias("SHA1", 0, 0, 0, M_SHA1, 0, 0),
    alias("SHA", 0, 0, 0, M_SHA1, 0, 0),
    alias("SHA256", 0, 0, 0, M_SHA256, 0, 0),
    alias("SHA384", 0, 0, 0, M_SHA384, 0, 0),
    alias("SSLv3", 0, 0, 0, 0, V_SSL3, 0),
    alias("TLSv1", 0, 0, 0, 0, V_TLS1, 0),
    alias("TLSv1.0", 0, 0, 0, 0, V_TLS1, 0),
    alias("TLSv1.2", 0, 0, 0, 0, V_TLS12, 0),
    alias("LOW", 0, 0, 0, 0, 0, S_LOW),
    alias("MEDIUM", 0, 0, 0, 0, 0, S_MEDIUM),
    alias("HIGH", 0, 0, 0, 0, 0, S_HIGH),
    alias("FIPS", 0, 0, !E_NULL, 0, 0, S_FIPS),
    // Algorithms OpenSSL 3.0 builds no suite for (or has dropped): they select nothing.
    alias("3DES", 0, 0, E_GONE, 0, 0, 0),
    alias("DES", 0, 0, E_GONE, 0, 0, 0),
    alias("RC4", 0, 0, E_GONE, 0, 0, 0),
    alias("RC2", 0, 0, E_GONE, 0, 0, 0),
    alias("IDEA", 0, 0, E_GONE, 0, 0, 0),
    alias("SEED", 0, 0, E_GONE, 0, 0, 0),
    alias("GOST89", 0, 0, E_GONE, 0, 0, 0),
    alias("GOST89MAC", 0, 0, 0, M_GONE, 0, 0),
    alias("GOST94", 0, 0, 0, M_GONE, 0, 0),
    alias("GOST12", 0, 0, 0, M_GONE, 0, 0),
    alias("GOST2012-GOST8912-GOST8912", 0, 0, E_GONE, 0, 0, 0),
    alias("kGOST", 0, 0, E_GONE, 0, 0, 0),
    alias("kGOST18", 0, 0, E_GONE, 0, 0, 0),
    alias("aGOST", 0, 0, E_GONE, 0, 0, 0),
    alias("aGOST01", 0, 0, E_GONE, 0, 0, 0),
    alias("aGOST12", 0, 0, E_GONE, 0, 0, 0),
    // Aliases of older OpenSSL releases (export grade, fixed DH/ECDH, Kerberos, SSLv2 ...).
    alias("EXP", 0, 0, E_GONE, 0, 0, 0),
    alias("EXPORT", 0, 0, E_GONE, 0, 0, 0),
    alias("EXPORT40", 0, 0, E_GONE, 0, 0, 0),
    alias("EXPORT56", 0, 0, E_GONE, 0, 0, 0),
    alias("EXP40", 0, 0, E_GONE, 0, 0, 0),
    alias("EXP56", 0, 0, E_GONE, 0, 0, 0),
    alias("SSLv2", 0, 0, E_GONE, 0, 0, 0),
    alias("kDH", 0, 0, E_GONE, 0, 0, 0),
    alias("kDHr", 0, 0, E_GONE, 0, 0, 0),
    alias("kDHd", 0, 0, E_GONE, 0, 0, 0),
    alias("aDH", 0, 0, E_GONE, 0, 0, 0),
    alias("kECDH", 0, 0, E_GONE, 0, 0, 0),
    alias("kECDHr", 0, 0, E_GONE, 0, 0, 0),
    alias("kECDHe", 0, 0, E_GONE, 0, 0, 0),
    alias("aECDH", 0, 0, E_GONE, 0, 0, 0),
    alias("KRB5", 0, 0, E_GONE, 0, 0, 0),
    alias("kKRB5", 0, 0, E_GONE, 0, 0, 0),
    alias("aKRB5", 0, 0, E_GONE, 0, 0, 0),
    alias("kFZA", 0, 0, E_GONE, 0, 0, 0),
    alias("aFZA", 0, 0, E_GONE, 0, 0, 0),
    alias("eFZA", 0, 0, E_GONE, 0, 0, 0),
    alias("FZA", 0, 0, E_GONE, 0, 0, 0),
    alias("aGOST94", 0, 0, E_GONE, 0, 0, 0),
    alias("GOST", 0, 0, E_GONE, 0, 0, 0),
    // OpenSSL 3.0 knows "DEFAULT" only at the start of a string; elsewhere it selects nothing.
    alias("DEFAULT", 0, 0, E_GONE, 0, 0, 0),
];

/// OpenSSL 3.0's DEFAULT.
const DEFAULT_RULES: &str = "ALL:!COMPLEMENTOFDEFAULT:!eNULL";

/// TLS 1.3 suite names: `ssl_ciphers` does not choose TLS 1.3 suites (OpenSSL skips them there).
const TLS13_NAMES: &[&str] = &[
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_AES_128_CCM_SHA256",
    "TLS_AES_128_CCM_8_SHA256",
];

/// Parts of suite names OpenSSL 3.0 no longer builds: RC4, (3)DES, RC2, IDEA, SEED, export,
/// Kerberos, GOST. A name with one of them is a real, retired suite, not a typo.
const RETIRED_PARTS: &[&str] = &[
    "RC4", "RC2", "DES", "CBC3", "3DES", "IDEA", "SEED", "EXP", "EXP1024", "KRB5", "GOST89",
    "GOST94", "GOST2001", "GOST2012", "EDE",
];

/// The suites rustls implements, by OpenSSL name.
const RUSTLS: &[(&str, Tls12Suite)] = &[
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        Tls12Suite::EcdheEcdsaAes128Gcm,
    ),
    (
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        Tls12Suite::EcdheEcdsaAes256Gcm,
    ),
    (
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        Tls12Suite::EcdheEcdsaChacha20,
    ),
    ("ECDHE-RSA-AES128-GCM-SHA256", Tls12Suite::EcdheRsaAes128Gcm),
    ("ECDHE-RSA-AES256-GCM-SHA384", Tls12Suite::EcdheRsaAes256Gcm),
    ("ECDHE-RSA-CHACHA20-POLY1305", Tls12Suite::EcdheRsaChacha20),
];

/// What a cipher string selects.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selection {
    /// The suites rustls implements, in the string's order.
    pub tls12: Vec<Tls12Suite>,
    /// Every suite the string selects, in order (OpenSSL names), as `openssl ciphers` prints
    /// them without the TLS 1.3 ones.
    pub openssl: Vec<&'static str>,
    /// Names written that select nothing here: retired suites and TLS 1.3 suites.
    pub ignored: Vec<String>,
}

impl Selection {
    /// The selected suites ringway cannot offer, in order.
    pub fn skipped(&self) -> Vec<&'static str> {
        self.openssl
            .iter()
            .copied()
            .filter(|n| rustls_suite(n).is_none())
            .collect()
    }
}

fn rustls_suite(name: &str) -> Option<Tls12Suite> {
    RUSTLS.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Add,
    Del,
    Ord,
    Kill,
    Special,
}

/// A rule's selector: `id` for one named suite, else the algorithm masks (0 = any).
#[derive(Debug, Clone, Copy, Default)]
struct Pattern {
    id: Option<usize>,
    kx: u32,
    au: u32,
    enc: u32,
    mac: u32,
    ver: u8,
    strength: u8,
}

impl Pattern {
    fn matches(&self, i: usize) -> bool {
        let Some(s) = SUITES.get(i) else {
            return false;
        };
        let hit = |want: u32, have: u32| want == 0 || want & have != 0;
        let strong = self.strength & S_STRONG_MASK;
        let dflt = self.strength & S_NOT_DEFAULT;
        self.id.is_none_or(|id| id == i)
            && hit(self.kx, s.kx)
            && hit(self.au, s.au)
            && hit(self.enc, s.enc)
            && hit(self.mac, s.mac)
            && (self.ver == 0 || self.ver == s.ver)
            && (strong == 0 || strong & s.strength != 0)
            && (dflt == 0 || dflt & s.strength != 0)
    }

    /// `A+B`: narrows this selector by one more part, as OpenSSL does (None: selects nothing).
    fn and(mut self, part: &Spec, id: Option<usize>) -> Option<Pattern> {
        fn narrow(cur: &mut u32, new: u32) -> bool {
            if new != 0 {
                *cur = if *cur != 0 { *cur & new } else { new };
            }
            new == 0 || *cur != 0
        }
        let ok = narrow(&mut self.kx, part.kx)
            && narrow(&mut self.au, part.au)
            && narrow(&mut self.enc, part.enc)
            && narrow(&mut self.mac, part.mac);
        if !ok {
            return None;
        }
        let strong = part.strength & S_STRONG_MASK;
        if strong != 0 {
            if self.strength & S_STRONG_MASK != 0 {
                self.strength &= strong | !S_STRONG_MASK;
                if self.strength & S_STRONG_MASK == 0 {
                    return None;
                }
            } else {
                // OpenSSL replaces the whole value here (dropping a not-default bit set before).
                self.strength = strong;
            }
        }
        let dflt = part.strength & S_NOT_DEFAULT;
        if dflt != 0 {
            if self.strength & S_NOT_DEFAULT != 0 {
                self.strength &= dflt | !S_NOT_DEFAULT;
            } else {
                self.strength |= dflt;
            }
        }
        match id {
            // A named suite: its version is not part of the selector.
            Some(_) => self.id = id,
            None if part.ver != 0 => {
                if self.ver != 0 && self.ver != part.ver {
                    return None;
                }
                self.ver = part.ver;
            }
            None => {}
        }
        Some(self)
    }
}

/// One entry of OpenSSL's ordered list: a suite and whether it is selected.
#[derive(Debug, Clone, Copy)]
struct Entry {
    suite: usize,
    active: bool,
}

struct List(Vec<Entry>);

impl List {
    fn new() -> List {
        List(
            (0..SUITES.len())
                .map(|suite| Entry {
                    suite,
                    active: false,
                })
                .collect(),
        )
    }

    /// Moves the entries `pick` chooses to the tail (or head), keeping their order.
    fn move_picked(&mut self, to_head: bool, pick: impl Fn(&Entry) -> bool, active: Option<bool>) {
        let (mut moved, rest): (Vec<Entry>, Vec<Entry>) = self.0.iter().partition(|e| pick(e));
        if let Some(a) = active {
            moved.iter_mut().for_each(|e| e.active = a);
        }
        self.0 = if to_head {
            moved.into_iter().chain(rest).collect()
        } else {
            rest.into_iter().chain(moved).collect()
        };
    }

    fn apply(&mut self, op: Op, p: &Pattern) {
        match op {
            Op::Add => self.move_picked(false, |e| !e.active && p.matches(e.suite), Some(true)),
            Op::Ord => self.move_picked(false, |e| e.active && p.matches(e.suite), None),
            Op::Del => self.move_picked(true, |e| e.active && p.matches(e.suite), Some(false)),
            Op::Kill => self.0.retain(|e| !p.matches(e.suite)),
            Op::Special => {}
        }
    }

    /// `@STRENGTH`: selected suites by descending key bits, otherwise in their order.
    fn strength_sort(&mut self) {
        let mut bits: Vec<u16> = self
            .0
            .iter()
            .filter(|e| e.active)
            .filter_map(|e| SUITES.get(e.suite).map(|s| s.bits))
            .collect();
        bits.sort_unstable_by(|a, b| b.cmp(a));
        bits.dedup();
        for b in bits {
            self.move_picked(
                false,
                |e| e.active && SUITES.get(e.suite).is_some_and(|s| s.bits == b),
                None,
            );
        }
    }
}

fn is_sep(b: u8) -> bool {
    matches!(b, b':' | b' ' | b';' | b',')
}

fn is_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'=')
}

/// What one word of a rule names.
enum Word {
    Suite(usize),
    Alias(&'static Spec),
    /// A retired suite or a TLS 1.3 suite: known, selects nothing here.
    Nothing,
}

fn lookup(word: &str) -> Option<Word> {
    if let Some(i) = SUITES.iter().position(|s| s.name == word) {
        return Some(Word::Suite(i));
    }
    if let Some(a) = ALIASES.iter().find(|a| a.name == word) {
        return Some(Word::Alias(a));
    }
    retired(word).then_some(Word::Nothing)
}

/// A suite name of an older OpenSSL: `DES-CBC3-SHA`, `ECDHE-RSA-RC4-SHA`, `EXP-RC4-MD5`, and the
/// fixed-DH suites `DH-RSA-…` / `ECDH-ECDSA-…` (dropped in OpenSSL 1.1.0).
fn retired(word: &str) -> bool {
    let parts: Vec<&str> = word.split('-').collect();
    parts.len() >= 2
        && parts.iter().all(|p| !p.is_empty())
        && word
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
        && (parts.iter().any(|p| RETIRED_PARTS.contains(p))
            || matches!(parts[0], "DH" | "ECDH")
            || word.starts_with("EXP1024"))
}

struct Eval<'a> {
    text: &'a str,
    list: List,
    ignored: Vec<String>,
}

impl Eval<'_> {
    fn err(&self, why: &str) -> String {
        format!("invalid cipher string \"{}\": {why}", self.text)
    }

    /// Processes `rules` (OpenSSL's ssl_cipher_process_rulestr, rewritten).
    fn rules(&mut self, rules: &str) -> Result<(), String> {
        let b = rules.as_bytes();
        let mut i = 0;
        while let Some(&ch) = b.get(i) {
            let op = match ch {
                b'-' => Op::Del,
                b'+' => Op::Ord,
                b'!' => Op::Kill,
                b'@' => Op::Special,
                _ => Op::Add,
            };
            if op != Op::Add {
                i += 1;
            }
            if is_sep(ch) {
                i += 1;
                continue;
            }
            let end = b[i..]
                .iter()
                .position(|&c| is_sep(c))
                .map_or(b.len(), |n| i + n);
            if let Some(t) = rules.get(i..end).filter(|t| TLS13_NAMES.contains(t)) {
                // OpenSSL reads "TLS" here, knows no such alias and skips to the separator.
                self.ignored.push(t.to_string());
                i = end;
                continue;
            }
            i = self.rule(rules, i, op)?;
        }
        Ok(())
    }

    /// One rule starting at `i` (after its operator); returns where the next one starts.
    fn rule(&mut self, rules: &str, mut i: usize, op: Op) -> Result<usize, String> {
        let b = rules.as_bytes();
        let skip_to_sep = |from: usize| {
            b[from..]
                .iter()
                .position(|&c| is_sep(c))
                .map_or(b.len(), |n| from + n)
        };
        let mut pattern = Some(Pattern::default());
        loop {
            let start = i;
            while b.get(i).copied().is_some_and(is_name_char) {
                i += 1;
            }
            let word = rules.get(start..i).unwrap_or_default();
            if word.is_empty() {
                return Err(match rules.get(i..).and_then(|r| r.chars().next()) {
                    Some(c) => self.err(&format!("unexpected \"{c}\"")),
                    None => self.err("it ends where a cipher or alias was expected"),
                });
            }
            if op == Op::Special {
                self.special(word)?;
                return Ok(skip_to_sep(i));
            }
            let multi = b.get(i) == Some(&b'+');
            if multi {
                i += 1;
            }
            match lookup(word) {
                None => {
                    return Err(format!(
                        "unknown cipher or alias \"{word}\" in \"{}\"",
                        self.text
                    ));
                }
                Some(Word::Nothing) => {
                    self.ignored.push(word.to_string());
                    // OpenSSL drops the whole rule and what follows up to the separator.
                    return Ok(skip_to_sep(i));
                }
                Some(Word::Suite(id)) => {
                    pattern = pattern.and_then(|p| SUITES.get(id).and_then(|s| p.and(s, Some(id))));
                }
                Some(Word::Alias(a)) => pattern = pattern.and_then(|p| p.and(a, None)),
            }
            if !multi {
                break;
            }
        }
        if let Some(p) = pattern {
            self.list.apply(op, &p);
        }
        Ok(i)
    }

    fn special(&mut self, word: &str) -> Result<(), String> {
        match word.strip_prefix("SECLEVEL=") {
            // The security level limits keys and groups, which ringway chooses itself.
            Some(l) if l.len() == 1 && matches!(l.as_bytes()[0], b'0'..=b'5') => Ok(()),
            _ if word == "STRENGTH" => {
                self.list.strength_sort();
                Ok(())
            }
            _ => Err(self.err(&format!("unknown command \"@{word}\""))),
        }
    }
}

/// Evaluates an OpenSSL cipher string. Err is the message (naming the string or the token).
pub fn evaluate(text: &str) -> Result<Selection, String> {
    if text.starts_with("SUITEB") {
        return Err(format!(
            "cipher string \"{text}\": Suite B mode is not supported by ringway"
        ));
    }
    let mut ev = Eval {
        text,
        list: List::new(),
        ignored: Vec::new(),
    };
    let mut rest = text;
    // As OpenSSL: DEFAULT is expanded only at the very start.
    if let Some(r) = text.strip_prefix("DEFAULT") {
        ev.rules(DEFAULT_RULES)?;
        rest = r.strip_prefix(':').unwrap_or(r);
    }
    ev.rules(rest)?;
    let openssl: Vec<&'static str> = ev
        .list
        .0
        .iter()
        .filter(|e| e.active)
        .filter_map(|e| SUITES.get(e.suite).map(|s| s.name))
        .collect();
    let tls12 = openssl.iter().filter_map(|n| rustls_suite(n)).collect();
    Ok(Selection {
        tls12,
        openssl,
        ignored: ev.ignored,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use Tls12Suite::*;

    fn names(text: &str) -> String {
        evaluate(text)
            .unwrap_or_else(|e| panic!("{text}: {e}"))
            .openssl
            .join(" ")
    }

    fn suites(text: &str) -> Vec<Tls12Suite> {
        evaluate(text)
            .unwrap_or_else(|e| panic!("{text}: {e}"))
            .tls12
    }

    /// OpenSSL 3.0's order for its default and the strings operators commonly write (orders
    /// from `openssl ciphers 'STRING'` on OpenSSL 3.0.19).
    #[test]
    fn common_strings_select_in_openssl_order() {
        let by_strength = vec![
            EcdheEcdsaAes256Gcm,
            EcdheRsaAes256Gcm,
            EcdheEcdsaChacha20,
            EcdheRsaChacha20,
            EcdheEcdsaAes128Gcm,
            EcdheRsaAes128Gcm,
        ];
        for s in [
            "HIGH:!aNULL:!MD5",
            "DEFAULT",
            "ALL:!EXPORT:!LOW",
            "HIGH:@STRENGTH",
            "ECDHE:+AES128",
        ] {
            assert_eq!(suites(s), by_strength, "{s}");
        }
        let mozilla = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:\
            ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:\
            ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:\
            DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";
        let sel = evaluate(mozilla).unwrap();
        assert_eq!(
            sel.tls12,
            vec![
                EcdheEcdsaAes128Gcm,
                EcdheRsaAes128Gcm,
                EcdheEcdsaAes256Gcm,
                EcdheRsaAes256Gcm,
                EcdheEcdsaChacha20,
                EcdheRsaChacha20,
            ]
        );
        assert_eq!(
            sel.skipped(),
            vec![
                "DHE-RSA-AES128-GCM-SHA256",
                "DHE-RSA-AES256-GCM-SHA384",
                "DHE-RSA-CHACHA20-POLY1305"
            ]
        );
        assert_eq!(
            names("EECDH+AESGCM:EDH+AESGCM"),
            "ECDHE-ECDSA-AES256-GCM-SHA384 ECDHE-RSA-AES256-GCM-SHA384 \
             ECDHE-ECDSA-AES128-GCM-SHA256 ECDHE-RSA-AES128-GCM-SHA256 DHE-DSS-AES256-GCM-SHA384 \
             DHE-RSA-AES256-GCM-SHA384 DHE-DSS-AES128-GCM-SHA256 DHE-RSA-AES128-GCM-SHA256"
        );
        assert_eq!(
            suites("ECDHE+AESGCM:ECDHE+CHACHA20"),
            vec![
                EcdheEcdsaAes256Gcm,
                EcdheRsaAes256Gcm,
                EcdheEcdsaAes128Gcm,
                EcdheRsaAes128Gcm,
                EcdheEcdsaChacha20,
                EcdheRsaChacha20,
            ]
        );
        assert_eq!(
            suites("kEECDH+ECDSA:kEECDH+aRSA:!SHA1:!SHA256:!SHA384"),
            vec![
                EcdheEcdsaAes256Gcm,
                EcdheEcdsaChacha20,
                EcdheEcdsaAes128Gcm,
                EcdheRsaAes256Gcm,
                EcdheRsaChacha20,
                EcdheRsaAes128Gcm,
            ]
        );
        assert_eq!(
            suites("AESGCM:-aECDSA:CHACHA20"),
            vec![
                EcdheRsaAes256Gcm,
                EcdheRsaAes128Gcm,
                EcdheEcdsaChacha20,
                EcdheRsaChacha20
            ]
        );
        assert_eq!(
            suites("EECDH+AESGCM:EDH+AESGCM:!ECDSA"),
            vec![EcdheRsaAes256Gcm, EcdheRsaAes128Gcm]
        );
    }

    /// The operators' algebra: `!` is final, `-` can be undone, `+` moves to the end,
    /// `@STRENGTH` sorts, `A+B` intersects; eNULL suites sit where OpenSSL keeps them.
    #[test]
    fn algebra_matches_openssl() {
        assert_eq!(
            names("aNULL"),
            "ADH-AES256-GCM-SHA384 ADH-AES128-GCM-SHA256 ADH-AES256-SHA256 ADH-CAMELLIA256-SHA256 \
             ADH-AES128-SHA256 ADH-CAMELLIA128-SHA256 AECDH-AES256-SHA ADH-AES256-SHA \
             ADH-CAMELLIA256-SHA AECDH-AES128-SHA ADH-AES128-SHA ADH-CAMELLIA128-SHA AECDH-NULL-SHA"
        );
        assert_eq!(
            names("kRSA:@STRENGTH"),
            "AES256-GCM-SHA384 AES256-CCM8 AES256-CCM ARIA256-GCM-SHA384 AES256-SHA256 \
             CAMELLIA256-SHA256 AES256-SHA CAMELLIA256-SHA AES128-GCM-SHA256 AES128-CCM8 \
             AES128-CCM ARIA128-GCM-SHA256 AES128-SHA256 CAMELLIA128-SHA256 AES128-SHA \
             CAMELLIA128-SHA NULL-SHA256 NULL-SHA NULL-MD5"
        );
        // A retired suite and an alias for a retired cipher select nothing; `!` then no-ops.
        let sel = evaluate("ECDHE-RSA-AES128-GCM-SHA256:DES-CBC3-SHA:!RC4:ECDHE+AESGCM").unwrap();
        assert_eq!(
            sel.openssl.join(" "),
            "ECDHE-RSA-AES128-GCM-SHA256 ECDHE-ECDSA-AES256-GCM-SHA384 \
             ECDHE-RSA-AES256-GCM-SHA384 ECDHE-ECDSA-AES128-GCM-SHA256"
        );
        assert_eq!(sel.ignored, vec!["DES-CBC3-SHA".to_string()]);
        // Killed suites cannot come back; deleted ones can.
        assert!(evaluate("ALL:!ECDHE:ECDHE").unwrap().tls12.is_empty());
        assert_eq!(
            suites("ALL:-ECDHE:ECDHE-RSA-CHACHA20-POLY1305"),
            vec![EcdheRsaChacha20]
        );
        // No separator is needed before an operator, as in OpenSSL.
        assert_eq!(names("HIGH!MD5+RSA").split(' ').count(), 137);
        // Separators: ':', ',', ' ' and ';'.
        assert_eq!(suites("ECDHE+AESGCM, ECDHE+CHACHA20;!aECDSA").len(), 3);
        // TLS 1.3 names are not chosen here: noted, nothing selected for them.
        let sel = evaluate("TLS_AES_128_GCM_SHA256:ECDHE-RSA-AES128-GCM-SHA256").unwrap();
        assert_eq!(sel.tls12, vec![EcdheRsaAes128Gcm]);
        assert_eq!(sel.ignored, vec!["TLS_AES_128_GCM_SHA256".to_string()]);
        assert!(evaluate("HIGH:@SECLEVEL=2").is_ok());
        assert!(evaluate("").unwrap().openssl.is_empty());
    }

    #[test]
    fn bad_strings_name_the_token() {
        assert_eq!(
            evaluate("HIGH:!aNULL:!MD6").unwrap_err(),
            "unknown cipher or alias \"MD6\" in \"HIGH:!aNULL:!MD6\""
        );
        assert_eq!(
            evaluate("high").unwrap_err(),
            "unknown cipher or alias \"high\" in \"high\""
        );
        assert_eq!(
            evaluate("ECDHE-RSA-AES128-GCM-SHA265").unwrap_err(),
            "unknown cipher or alias \"ECDHE-RSA-AES128-GCM-SHA265\" in \"ECDHE-RSA-AES128-GCM-SHA265\""
        );
        assert_eq!(
            evaluate("HIGH:!").unwrap_err(),
            "invalid cipher string \"HIGH:!\": it ends where a cipher or alias was expected"
        );
        assert_eq!(
            evaluate("HIGH:_x").unwrap_err(),
            "invalid cipher string \"HIGH:_x\": unexpected \"_\""
        );
        assert_eq!(
            evaluate("HIGH:@FAST").unwrap_err(),
            "invalid cipher string \"HIGH:@FAST\": unknown command \"@FAST\""
        );
        assert!(evaluate("SUITEB128").unwrap_err().contains("Suite B"));
        assert!(evaluate("HIGH:é").is_err());
    }

    #[test]
    fn never_panics_on_odd_input() {
        for s in [
            "+",
            "-",
            "!",
            "@",
            "++",
            "A+",
            "+A",
            "@STRENGTH+HIGH",
            "@SECLEVEL=",
            "@SECLEVEL=9",
            "DEFAULT",
            "DEFAULT:",
            "DEFAULTX",
            ":::",
            "HIGH+",
            "HIGH++MD5",
            "\u{0}",
            "ÿ:HIGH",
            "TLS_",
            "-TLS_AES_128_GCM_SHA256",
            "EXP-",
            "DH-",
            "-DH-RSA-AES128-SHA",
        ] {
            let _ = evaluate(s);
        }
    }
}
