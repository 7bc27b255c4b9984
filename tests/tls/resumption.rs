//! Resumption on any shard: ringway runs two shards (`--workers 2`), each with its own
//! SO_REUSEPORT listener; the kernel hashes every new connection's 4-tuple onto one of them, and
//! each `s_client` run comes from a new ephemeral port. 20 resumptions after the first
//! handshake all landing on the shard that made the session has probability 2^-20, so when all
//! 20 resume, sessions (tickets, session IDs) resumed on both shards.

use std::path::Path;

use crate::clients::*;
use crate::common::*;

const RESUMPTIONS: usize = 20;

fn conf(extra: &str) -> String {
    let leaf = Pki::get().server(&["localhost"], KeyKind::Ecdsa);
    format!(
        "http {{ server {{ listen {LISTEN} ssl; server_name localhost; {} {extra}
            location / {{ return 200 \"reused=$ssl_session_reused\"; }} }} }}",
        leaf.directives()
    )
}

/// A full handshake saving its session to `sess`, then `RESUMPTIONS` connections resuming it.
/// Each one sends a request and reads the answer, so TLS 1.3 tickets (sent after the
/// handshake) are read before the client leaves.
fn resume_many(rw: &Ringway, sess: &Path, args: &[&str]) {
    let req = close_request("localhost", "/");
    let sess = sess.to_str().unwrap();
    let first = s_client(
        rw.addr,
        &[args, &["-servername", "localhost", "-sess_out", sess]].concat(),
        Some(&req),
    );
    assert!(first.handshake_done() && !first.reused(), "{}", first.all());
    assert!(first.stdout.contains("reused=."), "{}", first.all());
    for i in 0..RESUMPTIONS {
        let o = s_client(
            rw.addr,
            &[args, &["-servername", "localhost", "-sess_in", sess]].concat(),
            Some(&req),
        );
        assert!(
            o.reused(),
            "resumption {i} {args:?} not reused:\n{}",
            o.all()
        );
        assert!(o.stdout.contains("reused=r"), "{}", o.all());
    }
}

#[test]
fn tls13_tickets_resume_on_both_shards() {
    let rw = Ringway::start_with(&conf("ssl_session_cache shared:SSL:1m;"), 2);
    let dir = test_dir("tls13-sess");
    resume_many(&rw, &dir.join("s13"), &["-tls1_3"]);
    // TLS 1.2 tickets too.
    resume_many(&rw, &dir.join("s12"), &["-tls1_2"]);
}

/// ringway's own ticket keys live off the shards: a reload (which rereads certificates and
/// rebuilds every shard's TLS settings) keeps them, so tickets issued before it still resume.
#[test]
fn tickets_issued_before_a_reload_resume_after_it() {
    let text = conf("");
    let rw = Ringway::start_with(&text, 2);
    let dir = test_dir("tls-reload-sess");
    let sess = dir.join("s13");
    let sess = sess.to_str().unwrap();
    let req = close_request("localhost", "/");
    let first = s_client(
        rw.addr,
        &["-tls1_3", "-servername", "localhost", "-sess_out", sess],
        Some(&req),
    );
    assert!(first.handshake_done(), "{}", first.all());
    rw.reload_with(&text, &[]);
    for i in 0..4 {
        let o = s_client(
            rw.addr,
            &["-tls1_3", "-servername", "localhost", "-sess_in", sess],
            Some(&req),
        );
        assert!(
            o.reused(),
            "resumption {i} after reload not reused:\n{}",
            o.all()
        );
    }
}

#[test]
fn tls12_session_ids_resume_on_both_shards_with_tickets_off() {
    let rw = Ringway::start_with(
        &conf("ssl_session_cache shared:SSL:1m; ssl_session_tickets off;"),
        2,
    );
    let dir = test_dir("tls12-ids");
    resume_many(&rw, &dir.join("s12"), &["-tls1_2", "-no_ticket"]);
}

#[test]
fn ticket_key_files_of_48_and_80_bytes_resume_across_instances() {
    let dir = test_dir("ticket-keys");
    let k80 = dir.join("k80.key");
    let k48 = dir.join("k48.key");
    let other = dir.join("other.key");
    openssl(&dir, &["rand", "-out", k80.to_str().unwrap(), "80"]);
    openssl(&dir, &["rand", "-out", k48.to_str().unwrap(), "48"]);
    openssl(&dir, &["rand", "-out", other.to_str().unwrap(), "80"]);
    let keys = |files: &[&Path]| {
        files
            .iter()
            .map(|f| format!("ssl_session_ticket_key {};", f.display()))
            .collect::<String>()
    };
    for (first, k) in [("80", &k80), ("48", &k48)] {
        let rw = Ringway::start_with(&conf(&keys(&[k])), 2);
        let sess = dir.join(format!("s{first}"));
        resume_many(&rw, &sess, &["-tls1_3"]);
        let tls12 = dir.join(format!("s{first}-12"));
        resume_many(&rw, &tls12, &["-tls1_2"]);
        drop(rw);
        // Another instance whose first (encrypting) key is new and whose second is the old one
        // still opens the tickets the first instance issued (nginx's rotation by files).
        let rw = Ringway::start_with(&conf(&keys(&[&other, k])), 2);
        for (s, version) in [(&sess, "-tls1_3"), (&tls12, "-tls1_2")] {
            let o = s_client(
                rw.addr,
                &[
                    version,
                    "-servername",
                    "localhost",
                    "-sess_in",
                    s.to_str().unwrap(),
                ],
                Some(&close_request("localhost", "/")),
            );
            assert!(
                o.reused(),
                "{first}-byte key: ticket of the old instance:\n{}",
                o.all()
            );
        }
        drop(rw);
        // One that lacks the key cannot.
        let rw = Ringway::start_with(&conf(&keys(&[&other])), 2);
        let o = s_client(
            rw.addr,
            &[
                "-servername",
                "localhost",
                "-sess_in",
                sess.to_str().unwrap(),
            ],
            Some(&close_request("localhost", "/")),
        );
        assert!(o.handshake_done() && !o.reused(), "{}", o.all());
    }
}
