//! Kefu reference backend.
//!
//! ```text
//! main.rs        the binary: serve, or run a subcommand (agent add/remove/list, token, seed)
//! cli            its command line: options and subcommands, and the Config they make
//! app            HTTP router (web app, /api, WebSocket upgrade), Origin check, serve loop
//! api            /api handlers: config probe, guests, agent sign-in; typed errors
//! auth           who a connection is, proven: agent sessions, guest and app tokens, passwords
//! hub            who is connected, and who receives each message
//! session/       one WebSocket connection: common loop (mod), v0, v1, rate gate, close reasons
//! store          messages, read positions, accounts: SQLite via sqlx
//! ```

pub mod api;
pub mod app;
pub mod auth;
pub mod cli;
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
    /// Secret shared with an embedding app that signs its users' tokens, if any.
    pub app_secret: Option<String>,
    /// Accept user ids without a token (agents still need a session).
    pub trust_user_ids: bool,
    /// Accept any identity, agent included, with no `/api`: the original backend's behaviour,
    /// for testing the web app against it. Never for real use.
    pub no_auth: bool,
    /// Origins (`scheme://host[:port]`) besides the server's own whose pages may connect and
    /// call `/api`.
    pub allowed_origins: Vec<String>,
}
