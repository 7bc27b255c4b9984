use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use super::*;
use crate::acme::jws::AccountKey;

/// Every kind but rsa:4096, the same code as rsa:3072 with a larger size whose generation
/// alone takes seconds on a busy CI machine.
const ALL: [KeyAlg; 5] = [
    KeyAlg::EcdsaP256,
    KeyAlg::EcdsaP384,
    KeyAlg::EcdsaP521,
    KeyAlg::Rsa2048,
    KeyAlg::Rsa3072,
];

fn unb64(v: &Value) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(v.as_str().unwrap()).unwrap()
}

/// Checks `sig` over `input` with the public key in `jwk` alone, as an ACME server does.
fn verify_with_jwk(jwk: &Value, alg: &str, input: &[u8], sig: &[u8]) {
    use ring::signature as rs;
    let ec_point = || {
        let mut p = vec![4];
        p.extend(unb64(&jwk["x"]));
        p.extend(unb64(&jwk["y"]));
        p
    };
    match alg {
        "ES256" => rs::UnparsedPublicKey::new(&rs::ECDSA_P256_SHA256_FIXED, ec_point())
            .verify(input, sig)
            .unwrap(),
        "ES384" => rs::UnparsedPublicKey::new(&rs::ECDSA_P384_SHA384_FIXED, ec_point())
            .verify(input, sig)
            .unwrap(),
        "ES512" => {
            // ring has no P-521: RustCrypto verifies.
            use p521::ecdsa::signature::Verifier;
            let key = p521::ecdsa::VerifyingKey::from_sec1_bytes(&ec_point()).unwrap();
            let sig = p521::ecdsa::Signature::from_slice(sig).unwrap();
            key.verify(input, &sig).unwrap();
        }
        "RS256" => rs::RsaPublicKeyComponents {
            n: unb64(&jwk["n"]),
            e: unb64(&jwk["e"]),
        }
        .verify(&rs::RSA_PKCS1_2048_8192_SHA256, input, sig)
        .unwrap(),
        other => panic!("unexpected alg {other}"),
    }
}

fn check_key(key: &SigningKey, alg: KeyAlg) {
    assert_eq!(key.kind(), alg);
    let jwk = key.jwk();
    let (jws_alg, size) = match alg {
        KeyAlg::EcdsaP256 => ("ES256", 32),
        KeyAlg::EcdsaP384 => ("ES384", 48),
        KeyAlg::EcdsaP521 => ("ES512", 66),
        _ => ("RS256", alg.rsa_bits() / 8),
    };
    assert_eq!(key.jws_alg(), jws_alg);
    if jws_alg == "RS256" {
        assert_eq!(jwk["kty"], "RSA");
        assert_eq!(unb64(&jwk["e"]), [1, 0, 1]);
        assert_eq!(unb64(&jwk["n"]).len(), size);
        assert!(jwk.get("crv").is_none());
    } else {
        assert_eq!(jwk["kty"], "EC");
        let crv = format!("P-{}", &alg.name()[6..]);
        assert_eq!(jwk["crv"], crv.as_str());
        assert_eq!(unb64(&jwk["x"]).len(), size);
        assert_eq!(unb64(&jwk["y"]).len(), size);
    }
    // RFC 7638: SHA-256 of the required members, sorted, without whitespace.
    let mut members: Vec<_> = jwk.as_object().unwrap().iter().collect();
    members.sort_by(|a, b| a.0.cmp(b.0));
    let text = format!(
        "{{{}}}",
        members
            .iter()
            .map(|(k, v)| format!("\"{k}\":{v}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    let want = b64(ring::digest::digest(&ring::digest::SHA256, text.as_bytes()).as_ref());
    assert_eq!(key.thumbprint(), want);
    let sig = key.sign(&SystemRandom::new(), b"input").unwrap();
    verify_with_jwk(&jwk, jws_alg, b"input", &sig);
}

#[test]
fn every_kind_generates_signs_and_has_its_jwk() {
    for alg in ALL {
        let der = generate_pkcs8(alg).unwrap();
        let key = SigningKey::from_pkcs8(&der).unwrap();
        check_key(&key, alg);
        // Written as PEM and read back: the same key.
        let again = SigningKey::from_pem(pkcs8_pem(&der).unwrap().as_bytes()).unwrap();
        assert_eq!(again.thumbprint(), key.thumbprint(), "{}", alg.name());
    }
}

/// The RFC 7638 §3.1 example: an RSA key's thumbprint (members in any order, and others
/// than the required ones, make no difference).
#[test]
fn rsa_thumbprint_as_rfc_7638_example() {
    let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc\
             _BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR\
             0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTW\
             hAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
    let jwk =
        serde_json::json!({"kty": "RSA", "n": n, "e": "AQAB", "alg": "RS256", "kid": "2011-04-29"});
    assert_eq!(
        thumbprint_of(&jwk),
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
}

/// Key files as openssl writes them: SEC1 and PKCS#1 as well as PKCS#8.
#[test]
fn openssl_key_files_of_each_form() {
    let dir = std::env::temp_dir().join(format!("ringway-keys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases: [(&[&str], KeyAlg); 5] = [
        (
            &["ecparam", "-genkey", "-noout", "-name", "prime256v1"],
            KeyAlg::EcdsaP256,
        ),
        (
            &["ecparam", "-genkey", "-noout", "-name", "secp384r1"],
            KeyAlg::EcdsaP384,
        ),
        (
            &["ecparam", "-genkey", "-noout", "-name", "secp521r1"],
            KeyAlg::EcdsaP521,
        ),
        (&["genrsa", "-traditional", "2048"], KeyAlg::Rsa2048),
        (
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-384",
            ],
            KeyAlg::EcdsaP384,
        ),
    ];
    for (args, alg) in cases {
        let out = std::process::Command::new("openssl")
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "openssl {args:?}");
        let key = SigningKey::from_pem(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}\n{}", String::from_utf8_lossy(&out.stdout)));
        check_key(&key, alg);
    }
    let ed = std::process::Command::new("openssl")
        .args(["genpkey", "-algorithm", "ED25519"])
        .output()
        .unwrap();
    let e = SigningKey::from_pem(&ed.stdout).err().unwrap();
    assert!(e.contains("not an ECDSA P-256, P-384, P-521 or RSA"), "{e}");
    let _ = std::fs::remove_dir_all(dir);
}

/// A generated account key is kept (mode 0600), found again, and refused when account_key
/// asks for another kind at the same file.
#[test]
fn account_key_round_trips_and_signs_jws() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("ringway-jws-{}", std::process::id()));
    for alg in [KeyAlg::EcdsaP384, KeyAlg::Rsa2048, KeyAlg::EcdsaP521] {
        let path = dir.join(crate::acme::jws::generated_file(alg));
        let a = AccountKey::load_or_create(&path, alg).unwrap();
        let b = AccountKey::load_or_create(&path, alg).unwrap();
        assert_eq!(a.thumbprint(), b.thumbprint());
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let e = AccountKey::load_or_create(&path, KeyAlg::EcdsaP256)
            .err()
            .unwrap();
        assert!(e.contains("where account_key asks for ecdsa:256"), "{e}");
        let jws: Value =
            serde_json::from_str(&a.sign("https://x/acct", "n1", None, None).unwrap()).unwrap();
        let p: Value = serde_json::from_slice(&unb64(&jws["protected"])).unwrap();
        assert_eq!(p["nonce"], "n1");
        assert_eq!(p["jwk"], a.jwk());
        assert_eq!(jws["payload"], "");
        let input = format!("{}.", jws["protected"].as_str().unwrap());
        verify_with_jwk(
            &a.jwk(),
            p["alg"].as_str().unwrap(),
            input.as_bytes(),
            &unb64(&jws["signature"]),
        );
    }
    assert_eq!(
        crate::acme::jws::generated_file(KeyAlg::EcdsaP256),
        "account.key"
    );
    assert_eq!(
        crate::acme::jws::generated_file(KeyAlg::Rsa4096),
        "account-rsa-4096.key"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// Certificate keys: rcgen makes a CSR with each kind ring signs with.
#[test]
fn certificate_keys_make_csrs() {
    for alg in [KeyAlg::EcdsaP256, KeyAlg::EcdsaP384, KeyAlg::Rsa2048] {
        let key = certificate_key(alg).unwrap();
        let params = rcgen::CertificateParams::new(vec!["a.example".to_string()]).unwrap();
        let csr = params.serialize_request(&key).unwrap();
        assert!(!csr.der().is_empty());
        let parsed = SigningKey::from_pem(key.serialize_pem().as_bytes()).unwrap();
        assert_eq!(parsed.kind(), alg);
    }
}
