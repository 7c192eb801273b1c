//! Kefu reference backend.
//!
//! - [`app`]: the HTTP router (static web app with client-route fallback, WebSocket endpoint)
//!   and the serve loop with graceful shutdown.
//! - [`hub`]: who is connected, and who receives each message.
//! - [`session`]: one WebSocket connection, speaking v0 (the original protocol) or v1.
//! - [`store`]: the messages, in SQLite.

pub mod app;
pub mod hub;
pub mod session;
pub mod store;

/// Settings of a running server.
#[derive(Debug, Clone)]
pub struct Config {
    /// Folder of the built web app.
    pub static_dir: std::path::PathBuf,
    /// Longest chat text accepted, in UTF-16 units.
    pub max_text_utf16: usize,
    /// Frames per second accepted from one connection (heartbeats not counted).
    pub max_frames_per_second: u32,
    /// How long a connection may stay silent before it is closed.
    pub idle_timeout: std::time::Duration,
    /// Whether protocol v1 is offered (else every connection speaks v0).
    pub v1: bool,
}
