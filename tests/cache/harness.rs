//! What every cache test shares: a scripted origin, a cache directory of its own, ringway in
//! front of both with `proxy_cache` and `X-Cache-Status: $upstream_cache_status`, and requests
//! on fresh connections.

use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use crate::common::*;

/// `proxy_cache_valid` long enough never to expire during a test.
pub const VALID: &str = "proxy_cache_valid 200 10m;";

/// A cache directory, removed when dropped.
pub struct CacheDir(pub PathBuf);

impl Drop for CacheDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The config: one `proxy_cache_path DIR levels=1:2 keys_zone=z:1m PATH_EXTRA`, one server with
/// `location /` proxying to the origin through zone `z` with `add_header X-Cache-Status
/// $upstream_cache_status always;` and `loc_extra`.
pub fn cache_conf(
    origin: std::net::SocketAddr,
    dir: &Path,
    path_extra: &str,
    loc_extra: &str,
) -> String {
    format!(
        "http {{
    proxy_cache_path {dir} levels=1:2 keys_zone=z:1m {path_extra};
    server {{
        listen {LISTEN};
        location / {{
            proxy_pass http://{origin};
            proxy_cache z;
            add_header X-Cache-Status $upstream_cache_status always;
            {loc_extra}
        }}
    }}
}}
",
        dir = dir.display()
    )
}

pub struct Setup {
    pub origin: Origin,
    pub dir: CacheDir,
    pub conf: String,
    pub workers: usize,
    pub rw: Ringway,
}

impl Setup {
    /// One worker; see `cache_conf`.
    pub fn start(path_extra: &str, loc_extra: &str) -> Setup {
        Setup::start_with(1, path_extra, loc_extra)
    }

    pub fn start_with(workers: usize, path_extra: &str, loc_extra: &str) -> Setup {
        let origin = Origin::start();
        let dir = CacheDir(temp_dir("cache"));
        let conf = cache_conf(origin.addr, &dir.0, path_extra, loc_extra);
        let rw = Ringway::start_with(&conf, workers);
        Setup {
            origin,
            dir,
            conf,
            workers,
            rw,
        }
    }

    /// Stops ringway (SIGQUIT, graceful) and starts it again on the same config and cache
    /// directory (on a new port).
    pub fn restart(&mut self) {
        assert!(
            self.rw.stop_graceful(Duration::from_secs(5)).is_some(),
            "ringway did not stop within 5 s of SIGQUIT"
        );
        self.rw = Ringway::start_with(&self.conf, self.workers);
    }

    pub fn get(&self, path: &str) -> Response {
        self.req("GET", path, &[])
    }

    /// `method path` with `headers`, on a fresh connection; panics unless a complete response
    /// comes (HEAD: its head).
    #[track_caller]
    pub fn req(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Response {
        match self.try_req(method, path, headers, IO_TIMEOUT) {
            Ok(r) if r.end == End::Complete => r,
            Ok(r) => panic!("{method} {path}: incomplete response: {}", r.describe()),
            Err(e) => panic!("{method} {path}: no response: {e}"),
        }
    }

    pub fn try_req(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        timeout: Duration,
    ) -> Result<Response, String> {
        send_req(self.rw.addr, method, path, headers, timeout).map(|(_, r)| r)
    }

    /// GETs `path` every 100 ms while the answer is a HIT with `old` as its body, and returns the
    /// first answer that is not a HIT, with the time since `t0` (taken before the request that
    /// stored the entry). Panics when every answer within `within` is a HIT.
    #[track_caller]
    pub fn await_not_hit(
        &self,
        path: &str,
        old: &[u8],
        t0: Instant,
        within: Duration,
    ) -> (Response, Duration) {
        let deadline = Instant::now() + within;
        loop {
            let r = self.get(path);
            if cache_status(&r) != "HIT" {
                return (r, t0.elapsed());
            }
            expect(&r, 200, "HIT", old, &format!("{path} while fresh"));
            assert!(
                Instant::now() < deadline,
                "{path}: still a HIT {:?} after the entry was stored",
                t0.elapsed()
            );
            thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Sends one request on a fresh connection and reads its response (HEAD: the head only).
pub fn send_req(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    timeout: Duration,
) -> Result<(Client, Response), String> {
    let mut c = Client::try_connect(addr).map_err(|e| format!("connect: {e}"))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: cache.test\r\n");
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    c.try_send(head.as_bytes())
        .map_err(|e| format!("send: {e}"))?;
    let r = c.try_read_response(method == "HEAD", timeout)?;
    Ok((c, r))
}

/// The response's `X-Cache-Status`, `-` when absent.
pub fn cache_status(r: &Response) -> &str {
    r.header("x-cache-status").unwrap_or("-")
}

/// Asserts status, `X-Cache-Status` and body.
#[track_caller]
pub fn expect(r: &Response, status: u16, cache: &str, body: &[u8], what: &str) {
    assert_eq!(
        (r.status, cache_status(r)),
        (status, cache),
        "{what}: status / X-Cache-Status; response: {}",
        r.describe()
    );
    assert_eq!(r.end, End::Complete, "{what}: {}", r.describe());
    assert_bytes_eq(&r.body, body, what);
}

/// Asserts how many requests for `path` the origin got.
#[track_caller]
pub fn expect_count(origin: &Origin, path: &str, n: usize, what: &str) {
    assert_eq!(
        origin.count(path),
        n,
        "{what}: requests for {path} at the origin: {:?}",
        origin
            .requests_for(path)
            .iter()
            .map(|r| r.head.clone())
            .collect::<Vec<_>>()
    );
}

/// Every regular file under `dir`, except under `dir/.tmp` (where entries being written may
/// sit): the cache's entry files.
pub fn cache_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                if p != dir.join(".tmp") {
                    stack.push(p);
                }
            } else if ft.is_file() {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Waits (polling, up to `within`) until at least `n` entry files are under `dir` (see
/// `cache_files`): an entry is committed once its file is in place.
#[track_caller]
pub fn await_entry_files(dir: &Path, n: usize, within: Duration) {
    let deadline = Instant::now() + within;
    while cache_files(dir).len() < n {
        assert!(
            Instant::now() < deadline,
            "fewer than {n} entry files under {} after {within:?}: {:?}",
            dir.display(),
            cache_files(dir)
        );
        thread::sleep(Duration::from_millis(5));
    }
}

/// Total size of every regular file under `dir` (`.tmp` included).
pub fn total_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(md) = std::fs::symlink_metadata(e.path()) else {
                continue;
            };
            if md.is_dir() {
                stack.push(e.path());
            } else if md.is_file() {
                total += md.len();
            }
        }
    }
    total
}

/// A body of `n` bytes that differs per `tag`.
pub fn body_for(tag: u8, n: usize) -> Vec<u8> {
    pattern(n).into_iter().map(|b| b ^ tag).collect()
}
