//! A cached response: the entry holds the origin's identity body once; each HIT is compressed
//! for its client (or not), without asking the origin again.

use super::*;

#[test]
fn hits_are_compressed_per_client_from_one_entry() {
    let o = Origin::start();
    o.set(
        "/page.txt",
        Reply::ok(text(80_000)).header("Content-Type", "text/plain"),
    );
    o.set(
        "/small.txt",
        Reply::ok(text(2_000)).header("Content-Type", "text/plain"),
    );
    let dir = temp_dir("compression-cache");
    let extra = format!(
        "location /c/ {{ proxy_pass http://{}/; proxy_cache z; proxy_cache_valid 200 10m;
            add_header X-Cache-Status $upstream_cache_status always; }}",
        o.addr
    );
    let text_conf = conf(o.addr, &extra).replace(
        "    gzip on;",
        &format!(
            "    proxy_cache_path {} levels=1:2 keys_zone=z:1m;\n    gzip on;",
            dir.display()
        ),
    );
    let rw = Ringway::start(&text_conf);
    for path in ["/c/page.txt", "/c/small.txt"] {
        let want = if path == "/c/page.txt" {
            text(80_000)
        } else {
            text(2_000)
        };
        for (ae, status, coding) in [
            ("gzip", "MISS", Some("gzip")),
            ("br", "HIT", Some("br")),
            ("", "HIT", None),
            ("gzip", "HIT", Some("gzip")),
        ] {
            let r = get(&rw, path, ae);
            assert_eq!(
                r.header("x-cache-status"),
                Some(status),
                "{path} {ae}: {}",
                r.head
            );
            assert_eq!(
                r.header("content-encoding"),
                coding,
                "{path} {ae}: {}",
                r.head
            );
            assert_eq!(r.headers_named("vary"), ["Accept-Encoding"], "{path} {ae}");
            assert_eq!(decoded(&r), want, "{path} {ae}");
        }
        // A HEAD HIT: the identity length, nothing compressed.
        let r = request(&rw, "HEAD", path, "Accept-Encoding: gzip\r\n");
        assert_eq!(r.header("content-encoding"), None);
        assert_eq!(r.header("content-length"), Some(&*want.len().to_string()));
    }
    // A HEAD that fills the entry (sent upstream as GET, the body to a sink): answered from it
    // uncompressed; the next GET is a HIT compressed for its client.
    o.set(
        "/head.txt",
        Reply::ok(text(40_000)).header("Content-Type", "text/plain"),
    );
    let r = request(&rw, "HEAD", "/c/head.txt", "Accept-Encoding: gzip\r\n");
    assert_eq!(r.header("x-cache-status"), Some("MISS"), "{}", r.head);
    assert_eq!(r.header("content-encoding"), None);
    assert_eq!(r.header("content-length"), Some("40000"));
    let r = get(&rw, "/c/head.txt", "gzip");
    assert_eq!(r.header("x-cache-status"), Some("HIT"));
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(decoded(&r), text(40_000));
    assert_eq!(o.count("/head.txt"), 1);
    assert_eq!(o.count("/page.txt"), 1);
    assert_eq!(o.count("/small.txt"), 1);
    let _ = std::fs::remove_dir_all(dir);
}
