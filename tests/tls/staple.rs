//! `ssl_stapling on` with `ssl_stapling_file`: the OCSP response goes out with the certificate.

use crate::clients::*;
use crate::common::*;

#[test]
fn stapled_ocsp_response_from_a_file() {
    let pki = Pki::get();
    let leaf = pki.server(&["staple.test"], KeyKind::Ecdsa);
    let dir = test_dir("staple");
    let resp = dir.join("resp.der");
    pki.ocsp_response(&leaf, &resp);
    let conf = |stapling: &str| {
        format!(
            "http {{ server {{ listen {LISTEN} ssl; {} {stapling} location / {{ return 200; }} }} }}",
            leaf.directives()
        )
    };
    let rw = Ringway::start(&conf(&format!(
        "ssl_stapling on; ssl_stapling_file {};",
        resp.display()
    )));
    for version in ["-tls1_3", "-tls1_2"] {
        let o = s_client(
            rw.addr,
            &[version, "-servername", "staple.test", "-status"],
            None,
        );
        assert!(o.handshake_done(), "{}", o.all());
        assert!(
            o.stdout.contains("OCSP Response Status: successful"),
            "{version}: {}",
            o.all()
        );
        assert!(
            o.stdout.contains("Cert Status: good"),
            "{version}: {}",
            o.all()
        );
    }
    // Without stapling nothing is sent.
    let rw = Ringway::start(&conf(""));
    let o = s_client(rw.addr, &["-servername", "staple.test", "-status"], None);
    assert!(o.handshake_done(), "{}", o.all());
    assert!(
        o.stdout.contains("OCSP response: no response sent"),
        "{}",
        o.all()
    );
}
