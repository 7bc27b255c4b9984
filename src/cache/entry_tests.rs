//! Tests of the entry format: round trips, and each kind of damage read as corrupt.

use super::*;

fn meta() -> EntryMeta {
    EntryMeta {
        created: 1_700_000_000,
        valid_until: 1_700_000_600,
        last_modified: Some(784_111_777),
        stale_while_revalidate: 30,
        stale_if_error: 60,
        status: 200,
        body_len: 5,
        complete: true,
    }
}

fn file(m: &EntryMeta) -> Vec<u8> {
    let mut f = encode_prefix(
        m,
        b"http://a/x",
        b"\"v1\"",
        b"accept\naccept:*/*\r\n",
        b"HTTP/1.1 200 OK\r\n\r\n",
    );
    f.extend_from_slice(b"hello");
    f
}

#[test]
fn round_trip() {
    let m = meta();
    let f = file(&m);
    let d = decode(&f, f.len() as u64).unwrap();
    assert_eq!(d.meta, m);
    assert_eq!(&f[d.key.clone()], b"http://a/x");
    assert_eq!(&f[d.etag.clone()], b"\"v1\"");
    assert_eq!(
        split_vary(&f[d.vary.clone()]),
        Some((&b"accept"[..], &b"accept:*/*\r\n"[..]))
    );
    assert_eq!(&f[d.head.clone()], b"HTTP/1.1 200 OK\r\n\r\n");
    assert_eq!(&f[d.body_offset as usize..], b"hello");
    let m2 = EntryMeta {
        last_modified: None,
        ..m
    };
    let f2 = file(&m2);
    assert_eq!(decode(&f2, f2.len() as u64).unwrap().meta, m2);
}

#[test]
fn header_rewritten_in_place() {
    // Written first incomplete with body_len 0, then the header rewritten.
    let m = meta();
    let mut f = file(&EntryMeta {
        complete: false,
        body_len: 0,
        ..m
    });
    assert_eq!(
        decode(&f, f.len() as u64),
        Err(DecodeError::Corrupt("incomplete entry"))
    );
    f[..FIXED_LEN].copy_from_slice(&fixed_header(&m));
    assert_eq!(decode(&f, f.len() as u64).unwrap().meta, m);
}

#[test]
fn need_more() {
    let f = file(&meta());
    let len = f.len() as u64;
    assert_eq!(
        decode(&f[..10], len),
        Err(DecodeError::NeedMore(HEADER_LEN))
    );
    let body_offset = f.len() - 5;
    assert_eq!(
        decode(&f[..HEADER_LEN], len),
        Err(DecodeError::NeedMore(body_offset))
    );
    assert!(decode(&f[..body_offset], len).is_ok());
}

#[test]
fn damage_is_corrupt() {
    let f = file(&meta());
    let len = f.len() as u64;
    let corrupt = |g: &[u8], len| matches!(decode(g, len), Err(DecodeError::Corrupt(_)));
    assert!(corrupt(&f, len - 1), "truncated body");
    assert!(corrupt(&f, len + 1), "file longer than header says");
    assert!(corrupt(&f[..10], 10), "file shorter than a header");
    for (at, v) in [
        (0, b'X'),  // magic
        (8, 2),     // version
        (10, 2),    // complete marker
        (11, 0x80), // unknown flag
        (12, 0),    // status 0 (low byte; 200 = 0xc8)
        (14, 1),    // reserved
        (59, 0xff), // key length 4 GiB
        (71, 0x10), // head length past the limit
    ] {
        let mut g = f.clone();
        g[at] = v;
        assert!(corrupt(&g, len), "byte {at}");
    }
    // Last-Modified set without its flag.
    let mut g = file(&EntryMeta {
        last_modified: None,
        ..meta()
    });
    g[32] = 1;
    assert!(corrupt(&g, g.len() as u64));
    // body_len near u64::MAX: no overflow.
    let g = file(&EntryMeta {
        body_len: u64::MAX,
        ..meta()
    });
    assert!(corrupt(&g, u64::MAX));
}

#[test]
fn size_limits() {
    let big = vec![b'a'; MAX_PREFIX_LEN];
    assert!(fits(b"k", b"", b"", b"h"));
    assert!(!fits(b"k", b"", b"", &big));
    // What does not fit decodes as corrupt, never as something else.
    let f = encode_prefix(&meta(), b"k", b"", b"", &big);
    assert_eq!(
        decode(&f, f.len() as u64 + 5),
        Err(DecodeError::Corrupt("section lengths too large"))
    );
}

#[test]
fn vary_section() {
    assert_eq!(split_vary(b""), None);
    assert_eq!(
        split_vary(&encode_vary(b"a,b", b"a:1\r\nb:\r\n")),
        Some((&b"a,b"[..], &b"a:1\r\nb:\r\n"[..]))
    );
}
