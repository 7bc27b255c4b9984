//! One shard's writer for one access log file: a buffer that lines are formatted into, and at
//! most one write in flight through the shard's ring (monoio's file write: an io_uring write, or
//! `pwrite` under the epoll driver). The file is opened with O_APPEND, so every write lands at
//! the end whatever offset it names, and whole lines from several shards never interleave.
//!
//! Without `buffer=`, the lines of one event-loop turn are written together by a task spawned
//! when the buffer goes non-empty (nginx writes each line at once). With `buffer=SIZE` the
//! buffer is written when the next line would not fit, and `flush=` after its oldest line.
//! A failed write drops its lines (counted, one error line per file per second at most);
//! lines arriving while a write is in flight wait, up to a hard cap, then are dropped.

use std::cell::{Cell, RefCell};
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use monoio::fs::File;
use tracing::error;

/// The most a writer holds while a write is in flight, without `buffer=`.
const UNBUFFERED_CAP: usize = 1024 * 1024;

pub struct Writer {
    pub path: PathBuf,
    /// This shard's duplicate of the file's descriptor.
    file: RefCell<Rc<File>>,
    /// A reopened file to switch to once what is buffered went to the current one.
    next: RefCell<Option<Rc<File>>>,
    buf: RefCell<Vec<u8>>,
    /// The buffer given back by the last write, reused by the next.
    spare: RefCell<Vec<u8>>,
    /// `buffer=` (0: none).
    size: Cell<usize>,
    flush: Cell<Duration>,
    writing: Cell<bool>,
    /// A task will write the buffer (unbuffered) or a flush timer is armed (buffered).
    scheduled: Cell<bool>,
    timer: Cell<bool>,
    /// Lines dropped since the last error line, and when that was.
    dropped: Cell<u64>,
    reported_at: Cell<Option<Instant>>,
}

/// A file's settings and descriptor, as a config generation gives them.
pub struct Spec<'a> {
    pub path: &'a PathBuf,
    pub fd: &'a Arc<OwnedFd>,
    pub buffer: usize,
    pub flush: Duration,
}

fn dup_file(fd: &OwnedFd) -> std::io::Result<Rc<File>> {
    let own = fd.try_clone()?;
    Ok(Rc::new(File::from_std(std::fs::File::from(own))?))
}

impl Writer {
    pub fn new(spec: &Spec<'_>) -> std::io::Result<Rc<Writer>> {
        Ok(Rc::new(Writer {
            path: spec.path.clone(),
            file: RefCell::new(dup_file(spec.fd)?),
            next: RefCell::new(None),
            buf: RefCell::new(Vec::new()),
            spare: RefCell::new(Vec::new()),
            size: Cell::new(spec.buffer),
            flush: Cell::new(spec.flush),
            writing: Cell::new(false),
            scheduled: Cell::new(false),
            timer: Cell::new(false),
            dropped: Cell::new(0),
            reported_at: Cell::new(None),
        }))
    }

    /// A reload or reopen: new settings and a fresh descriptor. What is buffered goes to the
    /// old descriptor first.
    pub fn reopen(self: &Rc<Self>, fd: &Arc<OwnedFd>, buffer: Option<(usize, Duration)>) {
        if let Some((size, flush)) = buffer {
            self.size.set(size);
            self.flush.set(flush);
        }
        let file = match dup_file(fd) {
            Ok(f) => f,
            Err(e) => {
                error!("access log \"{}\": {e}", self.path.display());
                return;
            }
        };
        if self.writing.get() || !self.buf.borrow().is_empty() {
            *self.next.borrow_mut() = Some(file);
            self.write_now();
        } else {
            *self.file.borrow_mut() = file;
        }
    }

    /// Formats one line into the buffer with `render` (which appends, without the newline).
    pub fn line(self: &Rc<Self>, render: impl FnOnce(&mut Vec<u8>)) {
        let size = self.size.get();
        let cap = if size == 0 {
            UNBUFFERED_CAP
        } else {
            (size * 4).max(UNBUFFERED_CAP)
        };
        let (start, end) = {
            let mut buf = self.buf.borrow_mut();
            let start = buf.len();
            render(&mut buf);
            buf.push(b'\n');
            if buf.len() > cap {
                buf.truncate(start);
                drop(buf);
                self.dropped(1);
                return;
            }
            (start, buf.len())
        };
        if size == 0 {
            if !self.scheduled.replace(true) {
                let w = self.clone();
                monoio::spawn(async move {
                    w.scheduled.set(false);
                    w.write_now();
                });
            }
            return;
        }
        if end > size && start > 0 && !self.writing.get() {
            // The line does not fit: what came before it is written, the line waits.
            let mut spare = std::mem::take(&mut *self.spare.borrow_mut());
            spare.clear();
            {
                let mut buf = self.buf.borrow_mut();
                spare.extend_from_slice(&buf[start..]);
                buf.truncate(start);
            }
            let full = std::mem::replace(&mut *self.buf.borrow_mut(), spare);
            self.spawn_write(full);
        }
        self.arm_timer();
    }

    /// `flush=`: the buffer is written at the latest this long after now (a timer already
    /// armed fires sooner, for an older line).
    #[inline]
    fn arm_timer(self: &Rc<Self>) {
        if !self.timer.replace(true) {
            self.spawn_timer();
        }
    }

    fn spawn_timer(self: &Rc<Self>) {
        let w = self.clone();
        monoio::spawn(async move {
            monoio::time::sleep(w.flush.get()).await;
            w.timer.set(false);
            w.write_now();
        });
    }

    /// Writes what is buffered now, unless a write is in flight (it writes the rest after).
    pub fn write_now(self: &Rc<Self>) {
        if self.writing.get() {
            return;
        }
        if self.buf.borrow().is_empty() {
            self.switch_file();
            return;
        }
        let mut spare = std::mem::take(&mut *self.spare.borrow_mut());
        spare.clear();
        let full = std::mem::replace(&mut *self.buf.borrow_mut(), spare);
        self.spawn_write(full);
    }

    fn switch_file(&self) {
        if let Some(f) = self.next.borrow_mut().take() {
            *self.file.borrow_mut() = f;
        }
    }

    fn spawn_write(self: &Rc<Self>, bytes: Vec<u8>) {
        self.writing.set(true);
        let w = self.clone();
        monoio::spawn(async move { w.write(bytes).await });
    }

    async fn write(self: Rc<Self>, bytes: Vec<u8>) {
        let file = self.file.borrow().clone();
        // O_APPEND: the offset is ignored, every write goes to the end of the file.
        let (res, mut bytes) = file.write_all_at(bytes, 0).await;
        if let Err(e) = res {
            let lines = bytes.iter().filter(|&&c| c == b'\n').count() as u64;
            self.failed(lines, &e);
        }
        bytes.clear();
        *self.spare.borrow_mut() = bytes;
        self.writing.set(false);
        // Unbuffered lines that came meanwhile, a full buffer, or a reopen waiting: go on.
        // Other buffered lines wait for their size or time.
        let held = self.buf.borrow().len();
        let more = held > 0;
        let full = held >= self.size.get();
        if more && (full || self.next.borrow().is_some()) {
            self.write_now();
        } else if more {
            // Lines that came during the write wait for their time, not for another line.
            self.arm_timer();
        } else {
            self.switch_file();
        }
    }

    fn dropped(&self, n: u64) {
        self.dropped.set(self.dropped.get() + n);
        self.report(None);
    }

    fn failed(&self, lines: u64, e: &std::io::Error) {
        self.dropped.set(self.dropped.get() + lines);
        self.report(Some(e));
    }

    /// One error line per file per second at most, with the lines dropped since the last.
    fn report(&self, e: Option<&std::io::Error>) {
        let now = Instant::now();
        if self
            .reported_at
            .get()
            .is_some_and(|t| now.duration_since(t) < Duration::from_secs(1))
        {
            return;
        }
        self.reported_at.set(Some(now));
        let n = self.dropped.replace(0);
        match e {
            Some(e) => error!(
                "access log \"{}\": write failed: {e}; {n} line(s) dropped",
                self.path.display()
            ),
            None => error!(
                "access log \"{}\": writes are not keeping up; {n} line(s) dropped",
                self.path.display()
            ),
        }
    }

    /// Whether nothing is buffered or being written.
    pub fn idle(&self) -> bool {
        !self.writing.get() && self.buf.borrow().is_empty()
    }

    /// At stop: writes everything buffered, waiting for the write in flight.
    pub async fn flush_all(self: &Rc<Self>) {
        for _ in 0..2000 {
            if self.idle() {
                return;
            }
            if !self.writing.get() {
                // Force: the next write goes on even for a buffered file.
                let mut spare = std::mem::take(&mut *self.spare.borrow_mut());
                spare.clear();
                let full = std::mem::replace(&mut *self.buf.borrow_mut(), spare);
                self.writing.set(true);
                self.clone().write(full).await;
                continue;
            }
            monoio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}
