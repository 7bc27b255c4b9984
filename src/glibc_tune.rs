//! glibc's `memcpy` on AMD processors: above 2 KiB it copies with `rep movsb`, which these
//! processors run slowly when source and destination are differently aligned. rustls copies
//! every plaintext record to 5 bytes past a buffer's start (after the record header): on the
//! development machine (AMD EPYC) that copy took 28% of a TLS download's CPU, and raising glibc's
//! threshold for `rep movsb` (the `glibc.cpu.x86_rep_movsb_threshold` tunable) cut CPU per 1 MiB
//! TLS download from 590–706 to 264–398 µs (alternating runs, docs/performance.md).
//!
//! glibc reads tunables once, when the program starts: ringway re-executes itself, same pid,
//! with the tunable added, unless `GLIBC_TUNABLES` already sets it or `RINGWAY_KEEP_MEMCPY=1`.

use std::ffi::OsString;

const TUNABLE: &str = "glibc.cpu.x86_rep_movsb_threshold";
/// Copies up to 4 MiB use vector moves; larger ones still `rep movsb` (or non-temporal stores).
const THRESHOLD: &str = "4194304";
/// Set in the re-executed process, so it never loops.
const MARK: &str = "RINGWAY_MEMCPY_TUNED";

/// Re-executes the program with the tunable when it applies; returns when it does not (or the
/// exec failed: ringway then runs with glibc's default).
pub fn apply() {
    if !is_amd() || std::env::var_os(MARK).is_some() {
        return;
    }
    if std::env::var_os("RINGWAY_KEEP_MEMCPY").is_some_and(|v| v == "1") {
        return;
    }
    let tunables = match std::env::var("GLIBC_TUNABLES") {
        Ok(v) if v.contains(TUNABLE) => return,
        Ok(v) if !v.is_empty() => format!("{v}:{TUNABLE}={THRESHOLD}"),
        _ => format!("{TUNABLE}={THRESHOLD}"),
    };
    use std::os::unix::process::CommandExt;
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_else(|| OsString::from("ringway"));
    let err = std::process::Command::new("/proc/self/exe")
        .arg0(argv0)
        .args(args)
        .env("GLIBC_TUNABLES", tunables)
        .env(MARK, "1")
        .exec();
    // Only reached when the exec failed (no /proc, say).
    eprintln!("ringway: could not re-execute with {TUNABLE} set ({err}); running without it");
}

#[cfg(target_arch = "x86_64")]
fn is_amd() -> bool {
    // Leaf 0: the vendor string, on every x86_64 processor.
    let r = std::arch::x86_64::__cpuid(0);
    let mut vendor = [0u8; 12];
    vendor[..4].copy_from_slice(&r.ebx.to_le_bytes());
    vendor[4..8].copy_from_slice(&r.edx.to_le_bytes());
    vendor[8..].copy_from_slice(&r.ecx.to_le_bytes());
    &vendor == b"AuthenticAMD"
}

#[cfg(not(target_arch = "x86_64"))]
fn is_amd() -> bool {
    false
}
