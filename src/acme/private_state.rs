//! `state_path off`: nothing is kept on disk across runs. The swap path loads certificates
//! from files, so this process keeps its issuers' state in a directory of its own (mode 0700,
//! named by its pid, under $XDG_RUNTIME_DIR or else the temporary directory), made at start
//! and removed at exit; the next start orders again.

use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::PathBuf;

/// This process's private directory (nothing is made here: `-t` only names it).
pub fn root() -> PathBuf {
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute() && p.is_dir())
        .unwrap_or_else(std::env::temp_dir);
    base.join(format!("ringway-acme-{}", std::process::id()))
}

/// Makes the private directory, or checks the one made at start (a reload comes here again):
/// a directory, not a link, ours and closed to others. Anything else there (someone
/// guessing the name in a shared /tmp) is an error, never used.
pub fn make() -> Result<PathBuf, String> {
    make_at(root())
}

fn make_at(dir: PathBuf) -> Result<PathBuf, String> {
    let fail = |e: &dyn std::fmt::Display| {
        format!(
            "state_path off: private directory \"{}\": {e}",
            dir.display()
        )
    };
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(fail(&e)),
    }
    let meta = std::fs::symlink_metadata(&dir).map_err(|e| fail(&e))?;
    // SAFETY: plain syscall without arguments.
    let me = unsafe { libc::geteuid() };
    if !meta.file_type().is_dir() || meta.uid() != me || meta.permissions().mode() & 0o077 != 0 {
        return Err(fail(&"exists and is not a private directory of this user"));
    }
    Ok(dir)
}

/// Removes the private directory and what it holds, if it was made.
pub fn remove() {
    let dir = root();
    if std::fs::symlink_metadata(&dir).is_ok_and(|m| m.file_type().is_dir())
        && let Err(e) = std::fs::remove_dir_all(&dir)
    {
        tracing::warn!("ACME: cannot remove \"{}\": {e}", dir.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_private_once_and_refused_when_not_ours() {
        let base = std::env::temp_dir().join(format!("ringway-private-{}", std::process::id()));
        std::fs::create_dir_all(&base).unwrap();
        let fresh = base.join("fresh");
        make_at(fresh.clone()).unwrap();
        let mode = std::fs::metadata(&fresh).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        // A reload finds it again.
        make_at(fresh.clone()).unwrap();
        // Open to others, or a link to elsewhere: never used.
        let open = base.join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
        let e = make_at(open).unwrap_err();
        assert!(e.contains("is not a private directory"), "{e}");
        let link = base.join("link");
        std::os::unix::fs::symlink(&fresh, &link).unwrap();
        let e = make_at(link).unwrap_err();
        assert!(e.contains("is not a private directory"), "{e}");
        let _ = std::fs::remove_dir_all(base);
    }
}
