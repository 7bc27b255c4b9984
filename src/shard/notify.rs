//! systemd's readiness protocol (sd_notify(3)): a datagram to `$NOTIFY_SOCKET`, when the
//! service manager set one (`Type=notify`). It tells systemd when ringway serves, reloads and
//! stops, and which process is the service's main one after a binary upgrade: the new binary
//! (a child of the old) says `MAINPID=` so that the old one may exit without systemd taking
//! the service for stopped. Without `$NOTIFY_SOCKET` every call does nothing.

use std::os::unix::net::{SocketAddr, UnixDatagram};

use tracing::warn;

/// Sends `state` (newline-separated `KEY=value` lines) to the service manager, if any. A
/// failure is logged and otherwise ignored: serving never depends on it.
pub fn notify(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let bytes = path.as_encoded_bytes();
    let addr = match bytes.strip_prefix(b"@") {
        // An abstract socket: '@' stands for the leading NUL.
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(name)
        }
        None => SocketAddr::from_pathname(&path),
    };
    let sent = addr.and_then(|addr| UnixDatagram::unbound()?.send_to_addr(state.as_bytes(), &addr));
    if let Err(e) = sent {
        warn!("cannot notify the service manager ({state:?}): {e}");
    }
}

/// `READY=1` with this process as the main one.
pub fn ready() {
    notify(&format!("MAINPID={}\nREADY=1", std::process::id()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_datagram_reaches_the_socket_named_by_notify_socket() {
        let dir = std::env::temp_dir().join(format!("ringway-notify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify.sock");
        let _ = std::fs::remove_file(&path);
        let rx = UnixDatagram::bind(&path).unwrap();
        // SAFETY: this test is the only one in the crate that touches NOTIFY_SOCKET.
        unsafe { std::env::set_var("NOTIFY_SOCKET", &path) };
        ready();
        unsafe { std::env::remove_var("NOTIFY_SOCKET") };
        let mut buf = [0u8; 128];
        rx.set_read_timeout(Some(std::time::Duration::from_secs(2)))
            .unwrap();
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(
            std::str::from_utf8(&buf[..n]).unwrap(),
            format!("MAINPID={}\nREADY=1", std::process::id())
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
