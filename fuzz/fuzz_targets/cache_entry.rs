//! The cache entry decoder: no panic on any bytes, and every accepted prefix is consistent (the
//! sections back to back inside it, the file length equal to body offset + body length) and
//! re-encodes to the same bytes; its strict prefixes ask for more. With bit 0 of the first byte
//! set, the input instead builds an entry (meta and sections taken from it) that must decode to
//! what was encoded, then damages it: a cut file and an incomplete one are corrupt, a flipped
//! byte decodes to something consistent or to an error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringway::cache::entry::{
    DecodeError, EntryMeta, FIXED_LEN, HEADER_LEN, MAX_PREFIX_LEN, decode, encode_prefix,
    fixed_header,
};
use ringway_fuzz::show;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    if sel & 1 == 0 {
        // The file may be longer than what was read: by 0, a little or a lot.
        let extra = [0, 1, 5, 1 << 20][usize::from(sel >> 1) % 4];
        check_decode(rest, rest.len() as u64 + extra);
    } else {
        built(sel, rest);
    }
});

/// `decode(prefix, file_len)` and the invariants of its answer.
fn check_decode(prefix: &[u8], file_len: u64) {
    match decode(prefix, file_len) {
        Ok(d) => {
            let sections = [&d.key, &d.etag, &d.vary, &d.head];
            let mut at = HEADER_LEN;
            for r in sections {
                assert_eq!(r.start, at, "sections not back to back: {}", show(prefix));
                at = r.end;
            }
            assert!(
                at <= prefix.len() && at <= MAX_PREFIX_LEN,
                "{}",
                show(prefix)
            );
            assert_eq!(d.body_offset, at as u64);
            assert_eq!(d.body_offset.checked_add(d.meta.body_len), Some(file_len));
            assert!(d.meta.complete);
            let again = encode_prefix(
                &d.meta,
                &prefix[d.key.clone()],
                &prefix[d.etag.clone()],
                &prefix[d.vary.clone()],
                &prefix[d.head.clone()],
            );
            assert_eq!(
                again,
                &prefix[..at],
                "re-encodes differently: {}",
                show(prefix)
            );
            assert_eq!(fixed_header(&d.meta), prefix[..FIXED_LEN]);
            let step = (at / 32).max(1);
            for cut in (0..at).step_by(step) {
                let want = if cut < HEADER_LEN { HEADER_LEN } else { at };
                assert_eq!(
                    decode(&prefix[..cut], file_len),
                    Err(DecodeError::NeedMore(want)),
                    "prefix of {cut}: {}",
                    show(prefix)
                );
            }
        }
        Err(DecodeError::NeedMore(n)) => {
            assert!(
                n > prefix.len() && n <= MAX_PREFIX_LEN,
                "NeedMore({n}): {}",
                show(prefix)
            );
        }
        Err(DecodeError::Corrupt(_)) => {}
    }
}

/// Builds an entry from the input, decodes it, damages it.
fn built(sel: u8, data: &[u8]) {
    let Some((m, rest)) = data.split_first_chunk::<40>() else {
        return;
    };
    let i64_at = |i: usize| i64::from_le_bytes(m[i..i + 8].try_into().unwrap());
    let u32_at = |i: usize| u32::from_le_bytes(m[i..i + 4].try_into().unwrap());
    let meta = EntryMeta {
        created: i64_at(0),
        valid_until: i64_at(8),
        last_modified: (sel & 2 != 0).then(|| i64_at(16)),
        stale_while_revalidate: u32_at(24),
        stale_if_error: u32_at(28),
        status: 100 + u16::from_le_bytes([m[32], m[33]]) % 900,
        body_len: 0,
        complete: true,
    };
    let mut sections: [&[u8]; 4] = [&[]; 4];
    let mut rest = rest;
    for (s, &len) in sections.iter_mut().zip(&m[34..38]) {
        let (a, b) = rest.split_at(usize::from(len).min(rest.len()));
        *s = a;
        rest = b;
    }
    let body = rest;
    let meta = EntryMeta {
        body_len: body.len() as u64,
        ..meta
    };
    let [key, etag, vary, head] = sections;
    let mut file = encode_prefix(&meta, key, etag, vary, head);
    file.extend_from_slice(body);
    let len = file.len() as u64;
    let d = decode(&file, len).unwrap_or_else(|e| panic!("{e:?}: {}", show(data)));
    assert_eq!(d.meta, meta);
    assert_eq!(
        [&file[d.key], &file[d.etag], &file[d.vary], &file[d.head]],
        sections
    );
    assert_eq!(&file[d.body_offset as usize..], body);
    check_decode(&file, len);

    // A cut file, or one whose header says "incomplete", is corrupt.
    assert!(matches!(
        decode(&file[..file.len() - 1], len - 1),
        Err(DecodeError::Corrupt(_))
    ));
    let mut half = file.clone();
    half[..FIXED_LEN].copy_from_slice(&fixed_header(&EntryMeta {
        complete: false,
        ..meta
    }));
    assert_eq!(
        decode(&half, len),
        Err(DecodeError::Corrupt("incomplete entry"))
    );

    // A flipped byte: anything consistent, or an error.
    let at = usize::from(u16::from_le_bytes([m[38], m[39]])) % file.len();
    file[at] ^= (sel >> 2) | 1;
    check_decode(&file, len);
}
