//! The cache loader's walk of a zone's directory: the entry files under its `levels`, one
//! directory read at a time as the loader asks for files. The list of every entry's path, read
//! at once at start, kept its capacity for the keeper's life (24 bytes a key: 2.4 MB for
//! 100,000 entries) and read every directory in one burst beside the shards' first requests;
//! read lazily, each loader batch costs a few directory reads more than its files.

use std::path::{Path, PathBuf};

pub struct Walk {
    levels: usize,
    /// Directories not read yet, with their depth below the zone's root.
    dirs: Vec<(PathBuf, usize)>,
    /// Entry files found and not handed out yet.
    files: Vec<PathBuf>,
}

impl Walk {
    pub fn new(root: &Path, levels: usize) -> Walk {
        Walk {
            levels,
            dirs: vec![(root.to_path_buf(), 0)],
            files: Vec::new(),
        }
    }

    fn read(&mut self, dir: &Path, depth: usize) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let Ok(kind) = e.file_type() else { continue };
            if depth < self.levels {
                // A level's directories; the temporary folder (`.tmp`) and other dot names are
                // not entries.
                if kind.is_dir() && e.file_name().as_encoded_bytes().first() != Some(&b'.') {
                    self.dirs.push((e.path(), depth + 1));
                }
            } else if kind.is_file() {
                self.files.push(e.path());
            }
        }
    }
}

/// The entry files; a directory that cannot be read is passed over.
impl Iterator for Walk {
    type Item = PathBuf;

    fn next(&mut self) -> Option<PathBuf> {
        loop {
            if let Some(f) = self.files.pop() {
                return Some(f);
            }
            let (dir, depth) = self.dirs.pop()?;
            self.read(&dir, depth);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The files at the levels' depth, nothing above or below it, nothing under a dot name.
    #[test]
    fn walks_the_entry_files_under_the_levels() {
        let root = std::env::temp_dir().join(format!("ringway-walk-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for d in ["a/bc", "a/de", "f/gh", ".tmp/xy", "a/bc/deeper"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        for f in [
            "a/bc/1",
            "a/bc/2",
            "a/de/3",
            "f/gh/4",
            "a/stray",
            "top",
            ".tmp/xy/t",
            "a/bc/deeper/5",
        ] {
            std::fs::write(root.join(f), b"x").unwrap();
        }
        let mut w = Walk::new(&root, 2);
        let mut got: Vec<String> = w
            .by_ref()
            .map(|p| {
                p.strip_prefix(&root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        got.sort();
        assert_eq!(got, ["a/bc/1", "a/bc/2", "a/de/3", "f/gh/4"]);
        assert!(w.next().is_none(), "the walk stays over");
        let _ = std::fs::remove_dir_all(&root);
    }
}
