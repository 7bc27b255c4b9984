//! Socket work every layer above shares, knowing nothing of HTTP: reads and writes with time
//! limits on owned buffers (io_uring's model), the shard's pool of read buffers, and splice(2)
//! through pooled pipes. Shard-local throughout: no locks.

pub mod buffers;
pub mod deadline;
pub mod io;
pub mod sendfile;
pub mod splice;
pub mod transport;

pub use transport::Transport;
