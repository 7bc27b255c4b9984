//! Backends that can be killed and restarted on the same port (failover tests).

use super::*;

/// The handler of `tagged_backend` (same answers), for backends started another way.
pub fn tagged_handler(tag: &str) -> impl Fn(&mut Conn) + Send + Sync + 'static {
    let tag = tag.to_string();
    move |c: &mut Conn| {
        while let Some(req) = c.read_request() {
            let conn = req.conn.to_string();
            let generation = req.header("x-gen").unwrap_or("-").to_string();
            if !c.respond_with(
                200,
                &[
                    ("X-Backend", &tag),
                    ("X-Gen", &generation),
                    ("X-Conn", &conn),
                ],
                req.head.as_bytes(),
            ) {
                return;
            }
        }
    }
}

/// A scripted backend that can be killed (its listener closed and every open connection shut
/// down, so the port refuses connections) and restarted on the same port. Counts and recorded
/// requests accumulate over restarts.
pub struct KillableBackend {
    pub addr: SocketAddr,
    pub state: Arc<BackendState>,
    handler: Arc<Handler>,
    stop: Arc<AtomicBool>,
    /// Clones of the open connections (removed when their handler returns), to shut them down.
    conns: Arc<Mutex<Vec<(usize, TcpStream)>>>,
    acceptor: Option<thread::JoinHandle<()>>,
}

impl KillableBackend {
    pub fn start<F>(handler: F) -> KillableBackend
    where
        F: Fn(&mut Conn) + Send + Sync + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").expect("backend bind");
        let mut b = KillableBackend {
            addr: listener.local_addr().unwrap(),
            state: Arc::new(BackendState::default()),
            handler: Arc::new(handler),
            stop: Arc::new(AtomicBool::new(false)),
            conns: Arc::new(Mutex::new(Vec::new())),
            acceptor: None,
        };
        b.serve(listener);
        b
    }

    pub(crate) fn serve(&mut self, listener: TcpListener) {
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        self.stop = stop.clone();
        let (state, handler, conns) =
            (self.state.clone(), self.handler.clone(), self.conns.clone());
        // A polling acceptor: it owns the listener and drops it (closing the port) when stopped.
        self.acceptor = Some(thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let stream = match listener.accept() {
                    Ok((s, _)) => s,
                    Err(_) => {
                        thread::sleep(Duration::from_millis(1));
                        continue;
                    }
                };
                let _ = stream.set_nonblocking(false);
                let index = state.accepted.fetch_add(1, Ordering::SeqCst);
                if let Ok(clone) = stream.try_clone() {
                    conns.lock().unwrap().push((index, clone));
                }
                let log = Arc::new(Mutex::new(Vec::new()));
                state.raw.lock().unwrap().push(log.clone());
                let (handler, state, conns) = (handler.clone(), state.clone(), conns.clone());
                thread::spawn(move || {
                    let _ = stream.set_nodelay(true);
                    let mut conn = Conn {
                        stream,
                        index,
                        buf: Vec::new(),
                        log,
                        state,
                    };
                    handler(&mut conn);
                    conns.lock().unwrap().retain(|(i, _)| *i != index);
                });
            }
        }));
    }

    /// Closes the listener (the port then refuses connections) and shuts down every open
    /// connection. Returns how many connections were open.
    pub fn kill(&mut self) -> usize {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(a) = self.acceptor.take() {
            a.join().unwrap();
        }
        let conns = std::mem::take(&mut *self.conns.lock().unwrap());
        for (_, s) in &conns {
            let _ = s.shutdown(Shutdown::Both);
        }
        conns.len()
    }

    /// Listens again on the same address (after `kill`).
    pub fn restart(&mut self) {
        assert!(self.acceptor.is_none(), "restart of a running backend");
        let deadline = Instant::now() + Duration::from_secs(5);
        let listener = loop {
            match TcpListener::bind(self.addr) {
                Ok(l) => break l,
                Err(e) if Instant::now() > deadline => panic!("rebind {}: {e}", self.addr),
                Err(_) => thread::sleep(Duration::from_millis(10)),
            }
        };
        self.serve(listener);
    }

    /// Connections the backend holds open: accepted and its handler not yet returned (nor shut
    /// down by `kill`).
    pub fn open_count(&self) -> usize {
        self.conns.lock().unwrap().len()
    }

    pub fn accepted(&self) -> usize {
        self.state.accepted.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> Vec<Req> {
        self.state.requests.lock().unwrap().clone()
    }

    pub fn request_count(&self) -> usize {
        self.state.requests.lock().unwrap().len()
    }
}

impl Drop for KillableBackend {
    fn drop(&mut self) {
        self.kill();
    }
}
