//! The config front end (lexer, parser, model builder) from a string: no panic; an error always
//! points at a line and column inside the text and is never an internal error; an accepted
//! config dumps (`-T`) to text that reads back to the same dump.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use ringway::config::{dump, parse_str};

/// Not a real folder: relative includes find nothing.
const PATH: &str = "/nonexistent-ringway-fuzz/ringway.conf";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // `include` reads the file system (`include /dev/zero` would never end): left to the unit
    // tests. Quotes and escapes are ignored here so that `inc"lude"` cannot slip through.
    let plain: String = text
        .chars()
        .filter(|c| !matches!(c, '"' | '\'' | '\\'))
        .collect();
    if plain.contains("include") {
        return;
    }
    let path = Path::new(PATH);
    match parse_str(text, path) {
        Err(e) => {
            let lines = text.split('\n').count() as u32;
            assert!(
                e.line >= 1 && e.line <= lines && e.col >= 1,
                "error position {}:{} outside the text ({lines} lines): {e}\n{text:?}",
                e.line,
                e.col
            );
            // Only the prefix: messages quote the input, which may itself say "internal error".
            assert!(!e.message.starts_with("internal error"), "{e}\n{text:?}");
            assert_eq!(e.file, path, "{e}");
        }
        Ok(cfg) => {
            let first = dump(&cfg);
            let mut again = match parse_str(&first, path) {
                Ok(c) => c,
                Err(e) => panic!("dump does not read back: {e}\n{first}\nfrom {text:?}"),
            };
            // Notices (ignored directives) are not part of the dump, so cannot come back.
            again.notices = cfg.notices.clone();
            let second = dump(&again);
            assert_eq!(first, second, "dump changed on reading back; from {text:?}");
        }
    }
});
