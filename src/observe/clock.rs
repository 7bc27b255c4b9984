//! The log phase's times, rendered at most once per second per shard (`$time_local`,
//! `$time_iso8601`, the error log's stamp); `$msec` adds the milliseconds.

use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

/// One second's renderings.
pub struct Stamps {
    pub sec: u64,
    /// `06/Dec/2026:10:20:11 +0000`
    pub local: [u8; 26],
    /// `2026-12-06T10:20:11+00:00`
    pub iso: [u8; 25],
    /// `2026/12/06 10:20:11` (the error log's)
    pub error: [u8; 19],
}

thread_local! {
    static STAMPS: RefCell<Stamps> = const { RefCell::new(Stamps {
        sec: u64::MAX,
        local: [b' '; 26],
        iso: [b' '; 25],
        error: [b' '; 19],
    }) };
}

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// Seconds and milliseconds since the epoch, from the kernel's coarse clock: as precise as
/// its tick (1–4 ms; nginx's log times are its event loop's cached time), and a few times
/// cheaper to read than the precise one.
pub fn now() -> (u64, u32) {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes only into `ts`.
    if unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut ts) } == 0 {
        return (ts.tv_sec as u64, (ts.tv_nsec / 1_000_000) as u32);
    }
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_secs(), d.subsec_millis())
}

/// Calls `f` with the renderings of second `sec` (local time, as nginx logs).
pub fn with_stamps<R>(sec: u64, f: impl FnOnce(&Stamps) -> R) -> R {
    STAMPS.with(|s| {
        let mut s = s.borrow_mut();
        if s.sec != sec {
            render(sec, &mut s);
        }
        f(&s)
    })
}

fn two(out: &mut [u8], n: i64) {
    out[0] = b'0' + (n / 10 % 10) as u8;
    out[1] = b'0' + (n % 10) as u8;
}

fn four(out: &mut [u8], n: i64) {
    two(&mut out[..2], n / 100);
    two(&mut out[2..], n % 100);
}

fn render(sec: u64, s: &mut Stamps) {
    let t = sec as libc::time_t;
    // SAFETY: localtime_r writes only into `tm`; a zeroed tm is a valid initial value.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    unsafe { libc::localtime_r(&t, &mut tm) };
    let (year, mon, day) = (
        i64::from(tm.tm_year) + 1900,
        tm.tm_mon,
        i64::from(tm.tm_mday),
    );
    let (h, m, sc) = (
        i64::from(tm.tm_hour),
        i64::from(tm.tm_min),
        i64::from(tm.tm_sec),
    );
    let off = tm.tm_gmtoff;
    let sign = if off < 0 { b'-' } else { b'+' };
    let (oh, om) = (off.abs() / 3600, off.abs() % 3600 / 60);
    let month = MONTHS[mon.clamp(0, 11) as usize];
    // 06/Dec/2026:10:20:11 +0000
    let l = &mut s.local;
    two(&mut l[0..2], day);
    l[2] = b'/';
    l[3..6].copy_from_slice(month);
    l[6] = b'/';
    four(&mut l[7..11], year);
    l[11] = b':';
    two(&mut l[12..14], h);
    l[14] = b':';
    two(&mut l[15..17], m);
    l[17] = b':';
    two(&mut l[18..20], sc);
    l[20] = b' ';
    l[21] = sign;
    two(&mut l[22..24], oh);
    two(&mut l[24..26], om);
    // 2026-12-06T10:20:11+00:00
    let i = &mut s.iso;
    four(&mut i[0..4], year);
    i[4] = b'-';
    two(&mut i[5..7], i64::from(mon) + 1);
    i[7] = b'-';
    two(&mut i[8..10], day);
    i[10] = b'T';
    two(&mut i[11..13], h);
    i[13] = b':';
    two(&mut i[14..16], m);
    i[16] = b':';
    two(&mut i[17..19], sc);
    i[19] = sign;
    two(&mut i[20..22], oh);
    i[22] = b':';
    two(&mut i[23..25], om);
    // 2026/12/06 10:20:11
    let e = &mut s.error;
    four(&mut e[0..4], year);
    e[4] = b'/';
    two(&mut e[5..7], i64::from(mon) + 1);
    e[7] = b'/';
    two(&mut e[8..10], day);
    e[10] = b' ';
    e[11..19].copy_from_slice(&i[11..19]);
    s.sec = sec;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_nginx_shapes() {
        // 2026-12-06 10:20:11 UTC; the offset depends on the machine's zone, so only shapes
        // and the UTC case are checked.
        with_stamps(1_796_552_411, |s| {
            let local = std::str::from_utf8(&s.local).unwrap();
            let iso = std::str::from_utf8(&s.iso).unwrap();
            assert_eq!(local.len(), 26, "{local}");
            assert_eq!(&local[2..3], "/");
            assert_eq!(&iso[4..5], "-");
            if local.ends_with("+0000") {
                assert_eq!(local, "06/Dec/2026:10:20:11 +0000");
                assert_eq!(iso, "2026-12-06T10:20:11+00:00");
                assert_eq!(&s.error, b"2026/12/06 10:20:11");
            }
        });
    }
}
