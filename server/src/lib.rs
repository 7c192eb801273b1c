//! Kefu reference backend.
//!
//! ```text
//! main.rs        the binary: serve, or run a subcommand (agent add/remove/list, token, seed)
//! cli            its command line: options and subcommands, and the Config they make
//! app            HTTP router (web app, /api, WebSocket upgrade), Origin check, serve loop
//! api            /api handlers: config probe, guests, agent sign-in, app friendships, the
//!                invite QR code; typed errors
//! qr             an invite link as a QR code (SVG)
//! auth           who a connection is, proven: agent sessions, guest and app tokens, passwords
//! hub            who is connected, and who receives each message
//! privacy        who may use which conversation: the one rule, over typed ids
//! cluster/       several instances on one Redis: fan-out of events, presence, shared limits
//! session/       one WebSocket connection: common loop (mod), v0, v1, rate gate, close reasons
//! store          messages, read positions, accounts, friends, the team's records: SQLite or
//!                PostgreSQL via sqlx
//! assignment     who gets a conversation: the one pure rule
//! team/          the team inbox's moving parts: seats, what agents are told, the timed tick
//! ```

pub mod api;
pub mod app;
pub mod assets;
pub mod assignment;
pub mod auth;
pub mod cli;
pub mod cluster;
pub mod hub;
pub mod limits;
pub mod net;
pub mod passwords;
pub mod privacy;
pub mod qr;
pub mod session;
pub mod store;
pub mod team;

/// Settings of a running server (made from the command line by [`cli::Cli::config`]).
#[derive(Debug, Clone)]
pub struct Config {
    /// Folder of the built web app.
    pub static_dir: std::path::PathBuf,
    /// Whether protocol v1 is offered (else every connection speaks v0).
    pub v1: bool,
    /// Secret shared with an embedding app that signs its users' tokens, if any.
    pub app_secret: Option<String>,
    /// Accept user ids without a token (agents still need a session).
    pub trust_user_ids: bool,
    /// Accept any identity, agent included, with no `/api`: the original backend's behaviour,
    /// for testing the web app against it. Never for real use.
    pub no_auth: bool,
    /// Origins (`scheme://host[:port]`) of other sites whose pages may connect and call `/api`.
    pub allowed_origins: Vec<String>,
    /// This server's own public origins (`https://kefu.example`): host names it answers to
    /// besides IP addresses and `localhost`, and origins of its own pages.
    pub public_origins: Vec<String>,
    /// Origins of other backends the console served here may send an agent's password to.
    pub console_backends: Vec<String>,
    /// The service's name and welcome text, for `/api/config`.
    pub branding: kefu_protocol::api::Branding,
    /// Proxies whose `X-Forwarded-For` / `X-Forwarded-Proto` are believed.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// The Redis shared with other instances (`redis://host:port`), if any.
    pub redis: Option<String>,
    /// Bounds of each WebSocket session.
    pub session: session::SessionLimits,
    /// Bounds on connections.
    pub connections: net::ConnectionLimits,
    /// Largest WebSocket frame read (past it: close 1009).
    pub max_frame_bytes: usize,
    /// Counted frames per user (all connections together) and per client address.
    pub per_user_frames: limits::Rate,
    pub per_address_frames: limits::Rate,
    /// Bytes of chat text stored per client address.
    pub per_address_bytes: limits::Rate,
    pub sign_in: SignInLimits,
    pub guests: GuestLimits,
    /// Invite QR pictures per client address (`/api/qr`).
    pub qr_per_address: limits::Rate,
}

/// Bounds of agent sign-in.
#[derive(Debug, Clone)]
pub struct SignInLimits {
    /// Threads checking passwords (each holds Argon2's memory, 19 MiB by default).
    pub workers: usize,
    /// Checks waiting for a worker at most; past it: 503, try again.
    pub queue: usize,
    /// Failed sign-ins allowed per (name, address).
    pub failures_per_name: limits::Rate,
    /// Failed sign-ins allowed per address, whatever the names.
    pub failures_per_address: limits::Rate,
}

/// Bounds of guest identities.
#[derive(Debug, Clone)]
pub struct GuestLimits {
    pub per_address: limits::Rate,
    pub in_all: limits::Rate,
}
