//! `ssl_verify_client on|optional` with `ssl_client_certificate`: the `$ssl_client_*` variables
//! as OpenSSL prints the certificate, 400 without a certificate or with one from another CA,
//! and 421 when Host selects a server verifying client certificates that SNI did not choose.

use crate::clients::*;
use crate::common::*;

const CLIENT_VARS: &str = "return 200 \"$ssl_client_verify|$ssl_client_s_dn|$ssl_client_i_dn|$ssl_client_serial|$ssl_client_fingerprint\";";

fn conf(verify: &str) -> String {
    let pki = Pki::get();
    let leaf = pki.server(&["localhost"], KeyKind::Ecdsa);
    format!(
        "http {{ server {{ listen {LISTEN} ssl; server_name localhost; {}
            ssl_verify_client {verify}; ssl_client_certificate {};
            location / {{ {CLIENT_VARS} }} }} }}",
        leaf.directives(),
        pki.ca.display()
    )
}

fn get(rw: &Ringway, cert: Option<&Pair>) -> Curl {
    let args = cert.map(cert_args).unwrap_or_default();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    curl_https(rw.addr, "localhost", "/", &args)
}

#[test]
fn verify_on_gives_the_certificate_facts_and_refuses_missing_or_foreign_ones() {
    let client = Pki::get().client("client");
    let foreign = Pki::other().client("stranger");
    let rw = Ringway::start(&conf("on"));
    let r = get(&rw, Some(&client));
    assert_eq!(r.status, 200, "{}", r.out.all());
    let (serial, fingerprint) = serial_and_fingerprint(&client.cert);
    assert_eq!(
        r.body,
        format!("SUCCESS|CN=client,O=Test|CN=Test CA,O=Test|{serial}|{fingerprint}"),
        "{}",
        r.out.all()
    );
    assert_eq!(fingerprint.len(), 40);

    let r = get(&rw, None);
    assert_eq!(r.status, 400, "no certificate: {}", r.out.all());
    let r = get(&rw, Some(&foreign));
    assert_eq!(r.status, 400, "another CA's certificate: {}", r.out.all());
}

#[test]
fn verify_optional_lets_a_client_without_certificate_in() {
    let client = Pki::get().client("client");
    let foreign = Pki::other().client("stranger");
    let rw = Ringway::start(&conf("optional"));
    let r = get(&rw, None);
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, "NONE||||"),
        "{}",
        r.out.all()
    );
    let r = get(&rw, Some(&client));
    assert!(
        r.body.starts_with("SUCCESS|CN=client,O=Test|"),
        "{}",
        r.out.all()
    );
    let r = get(&rw, Some(&foreign));
    assert_eq!(
        r.status,
        400,
        "optional still refuses a bad one: {}",
        r.out.all()
    );
}

/// `optional_no_ca`: a certificate from a CA ringway does not know is let in, and the variable
/// says why it did not verify (nginx passes the request to the application to decide).
#[test]
fn verify_optional_no_ca_lets_an_unknown_issuer_in_and_says_so() {
    let client = Pki::get().client("client");
    let foreign = Pki::other().client("stranger");
    let rw = Ringway::start(&conf("optional_no_ca"));
    let r = get(&rw, Some(&foreign));
    assert_eq!(r.status, 200, "{}", r.out.all());
    assert!(
        r.body
            .starts_with("FAILED:unable to get local issuer certificate|CN=stranger,"),
        "{}",
        r.out.all()
    );
    let r = get(&rw, Some(&client));
    assert!(r.body.starts_with("SUCCESS|"), "{}", r.out.all());
    let r = get(&rw, None);
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, "NONE||||"),
        "{}",
        r.out.all()
    );
}

#[test]
fn host_of_a_verifying_server_that_sni_did_not_choose_is_421() {
    let pki = Pki::get();
    let a = pki.server(&["a.example.test"], KeyKind::Ecdsa);
    let b = pki.server(&["b.example.test"], KeyKind::Ecdsa);
    let conf = format!(
        "http {{
            server {{ listen {LISTEN} ssl; server_name a.example.test; {}
                location / {{ return 200 \"a $ssl_client_verify\"; }} }}
            server {{ listen {LISTEN} ssl; server_name b.example.test; {}
                ssl_verify_client on; ssl_client_certificate {};
                location / {{ return 200 \"b $ssl_client_verify\"; }} }}
        }}",
        a.directives(),
        b.directives(),
        pki.ca.display()
    );
    let rw = Ringway::start(&conf);
    let client = pki.client("client");
    let cert = cert_args(&client);
    let cert: Vec<&str> = cert.iter().map(String::as_str).collect();
    // SNI a (no client certificate asked), Host b: b's rules were never applied.
    let r = curl_https(
        rw.addr,
        "a.example.test",
        "/",
        &["-H", "Host: b.example.test"],
    );
    assert_eq!(r.status, 421, "{}", r.out.all());
    let r = curl_https(
        rw.addr,
        "a.example.test",
        "/",
        &[&cert[..], &["-H", "Host: b.example.test"]].concat(),
    );
    assert_eq!(
        r.status,
        421,
        "a certificate a's handshake never asked for: {}",
        r.out.all()
    );
    // SNI b: b's handshake asked for and checked the certificate.
    let r = curl_https(rw.addr, "b.example.test", "/", &cert);
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, "b SUCCESS"),
        "{}",
        r.out.all()
    );
    let r = curl_https(rw.addr, "b.example.test", "/", &[]);
    assert_eq!(r.status, 400, "{}", r.out.all());
    // SNI b, Host a: a verifies nothing, so it serves.
    let r = curl_https(
        rw.addr,
        "b.example.test",
        "/",
        &[&cert[..], &["-H", "Host: a.example.test"]].concat(),
    );
    assert_eq!(r.status, 200, "{}", r.out.all());
    assert!(r.body.starts_with("a "), "{}", r.body);
}
