//! The command line of `kefu-server`: options of the server and its subcommands. Defined in
//! the library so that the tests build the same [`Config`] from the same arguments.

use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::limits::Rate;
use crate::net::ConnectionLimits;
use crate::session::SessionLimits;
use crate::{Config, GuestLimits, SignInLimits};

#[derive(Parser, Debug)]
#[command(name = "kefu-server", version, about = "Kefu reference backend")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Address to bind.
    #[arg(long, env = "KEFU_BIND", default_value = "127.0.0.1")]
    pub bind: std::net::IpAddr,
    /// Port to listen on (0 picks a free one; the chosen port is printed).
    #[arg(long, env = "KEFU_PORT", default_value_t = 8080)]
    pub port: u16,
    /// Folder holding the built web app (`trunk build` output).
    #[arg(long, env = "KEFU_STATIC_DIR", default_value = "dist")]
    pub static_dir: std::path::PathBuf,
    /// Longest chat text accepted, in UTF-16 units.
    #[arg(long, env = "KEFU_MAX_TEXT", default_value_t = kefu_protocol::MAX_TEXT_UTF16)]
    pub max_text: usize,
    /// The database: an SQLite file (created if missing; WAL mode), or PostgreSQL as
    /// `postgres://user:password@host:port/database` (the schema is made on first start).
    #[arg(long, env = "KEFU_DATABASE", default_value = "kefu.db", global = true)]
    pub database: std::path::PathBuf,
    /// Redis shared by several instances of the server on one PostgreSQL database
    /// (`redis://host:port`): live delivery, presence and rate limits across instances
    /// (docs/deployment.md). Without it the server runs alone.
    #[arg(long, env = "KEFU_REDIS")]
    pub redis: Option<String>,
    /// Secret shared with an embedding app, which signs its users' tokens with it (HS256 JWT).
    #[arg(long, env = "KEFU_APP_SECRET", global = true, hide_env_values = true)]
    pub app_secret: Option<String>,
    /// Accept user ids without a token, for apps that cannot send one (the original mobile
    /// app). Agents still need to sign in.
    #[arg(long, env = "KEFU_TRUST_USER_IDS")]
    pub trust_user_ids: bool,
    /// Accept any identity, the agent's included, and serve no `/api`: the original backend's
    /// behaviour, for testing the web app against it. Never for real use.
    #[arg(long, env = "KEFU_INSECURE_NO_AUTH")]
    pub insecure_no_auth: bool,
    /// Origin (`https://shop.example`) of another site whose pages may connect; repeatable or
    /// comma-separated. The server's own origin is always allowed.
    #[arg(long = "allow-origin", env = "KEFU_ALLOW_ORIGINS", value_delimiter = ',')]
    pub allowed_origins: Vec<String>,
    /// Frames per second accepted from one connection, bursts up to twice that
    /// (heartbeats not counted).
    #[arg(long, env = "KEFU_MAX_FRAMES_PER_SECOND", default_value_t = 20)]
    pub max_frames_per_second: u32,
    /// Seconds a connection may stay silent (clients heartbeat every 2 s) before it is closed.
    #[arg(long, env = "KEFU_IDLE_TIMEOUT_SECS", default_value_t = 30)]
    pub idle_timeout_secs: u64,
    /// Speak only the original protocol (never select `kefu.v1`), like the original backend.
    #[arg(long, env = "KEFU_V0_ONLY")]
    pub v0_only: bool,
    /// This server's public origin (`https://kefu.example`) when it is reached by a name, or
    /// behind a TLS proxy; repeatable. Other host names are refused (DNS rebinding).
    #[arg(long = "public-origin", env = "KEFU_PUBLIC_ORIGINS", value_delimiter = ',')]
    pub public_origins: Vec<String>,
    /// Origin of another backend (`https://chat.example`) that the console served here may
    /// sign in to; repeatable. The console sends no password to any other.
    #[arg(long = "console-backend", env = "KEFU_CONSOLE_BACKENDS", value_delimiter = ',')]
    pub console_backends: Vec<String>,
    /// The service's name shown to visitors (Chinese page); empty: 在线客服.
    #[arg(long, env = "KEFU_SERVICE_NAME_ZH", default_value = "")]
    pub service_name_zh: String,
    /// The service's name shown to visitors (English page); empty: Customer service.
    #[arg(long, env = "KEFU_SERVICE_NAME_EN", default_value = "")]
    pub service_name_en: String,
    /// The greeting shown at the top of a visitor's chat (Chinese page); empty: the page's own.
    #[arg(long, env = "KEFU_WELCOME_ZH", default_value = "")]
    pub welcome_zh: String,
    /// The greeting shown at the top of a visitor's chat (English page); empty: the page's own.
    #[arg(long, env = "KEFU_WELCOME_EN", default_value = "")]
    pub welcome_en: String,
    /// Address of a reverse proxy whose X-Forwarded-For and X-Forwarded-Proto are believed;
    /// repeatable.
    #[arg(long = "trusted-proxy", env = "KEFU_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Pending connections the kernel may hold for the accept loop (capped by somaxconn).
    #[arg(long, env = "KEFU_BACKLOG", default_value_t = 4096)]
    pub backlog: u32,
    /// TCP connections open at once, in all.
    #[arg(long, env = "KEFU_MAX_CONNECTIONS", default_value_t = 50_000)]
    pub max_connections: usize,
    /// TCP connections open at once from one client address.
    #[arg(long, env = "KEFU_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = 256)]
    pub max_connections_per_address: usize,
    /// Seconds a client may take to send an HTTP request head (and to stay idle between
    /// requests on a kept-alive connection).
    #[arg(long, env = "KEFU_HANDSHAKE_TIMEOUT_SECS", default_value_t = 10)]
    pub handshake_timeout_secs: u64,
    /// Seconds a new WebSocket may take to send its first frame.
    #[arg(long, env = "KEFU_FIRST_FRAME_TIMEOUT_SECS", default_value_t = 10)]
    pub first_frame_timeout_secs: u64,
    /// Seconds a write may wait for a client that does not read before it is dropped.
    #[arg(long, env = "KEFU_WRITE_TIMEOUT_SECS", default_value_t = 10)]
    pub write_timeout_secs: u64,
    /// KiB queued for one connection at most (past it: close 1013, client too slow).
    #[arg(long, env = "KEFU_MAX_QUEUED_KIB", default_value_t = 1024)]
    pub max_queued_kib: usize,
    /// MiB queued for all connections together at most.
    #[arg(long, env = "KEFU_MAX_QUEUED_TOTAL_MIB", default_value_t = 512)]
    pub max_queued_total_mib: usize,
    /// KiB of the largest WebSocket frame read (past it: close 1009).
    #[arg(long, env = "KEFU_MAX_FRAME_KIB", default_value_t = 256)]
    pub max_frame_kib: usize,
    /// Counted frames per second per user, all its connections together (default: twice
    /// --max-frames-per-second), bursts of twice that.
    #[arg(long, env = "KEFU_MAX_FRAMES_PER_SECOND_PER_USER")]
    pub max_frames_per_second_per_user: Option<u32>,
    /// Counted frames per second per client address (default: five times
    /// --max-frames-per-second), bursts of twice that.
    #[arg(long, env = "KEFU_MAX_FRAMES_PER_SECOND_PER_ADDRESS")]
    pub max_frames_per_second_per_address: Option<u32>,
    /// KiB of chat text stored per second per client address, bursts of 16 times that.
    #[arg(long, env = "KEFU_MAX_TEXT_KIB_PER_SECOND_PER_ADDRESS", default_value_t = 256)]
    pub max_text_kib_per_second_per_address: u32,
    /// Threads checking passwords at once (each holds 19 MiB while it works).
    #[arg(long, env = "KEFU_PASSWORD_WORKERS", default_value_t = 2)]
    pub password_workers: usize,
    /// Sign-ins waiting for a password thread at most (past it: 503, retry).
    #[arg(long, env = "KEFU_SIGN_IN_QUEUE", default_value_t = 32)]
    pub sign_in_queue: usize,
    /// Failed sign-ins per minute for one name from one address.
    #[arg(long, env = "KEFU_SIGN_IN_FAILURES_PER_NAME", default_value_t = 5)]
    pub sign_in_failures_per_name: u32,
    /// Failed sign-ins per minute from one address, whatever the names.
    #[arg(long, env = "KEFU_SIGN_IN_FAILURES_PER_ADDRESS", default_value_t = 20)]
    pub sign_in_failures_per_address: u32,
    /// New guest identities per minute per address (bursts of that many).
    #[arg(long, env = "KEFU_GUESTS_PER_MINUTE_PER_ADDRESS", default_value_t = 10)]
    pub guests_per_minute_per_address: u32,
    /// New guest identities per second from the whole server (bursts of ten times that).
    #[arg(long, env = "KEFU_GUESTS_PER_SECOND", default_value_t = 50)]
    pub guests_per_second: u32,
    /// Invite QR pictures per minute per address (`/api/qr`, bursts of that many): drawing
    /// one costs ~2 ms of CPU.
    #[arg(long, env = "KEFU_QR_PER_MINUTE_PER_ADDRESS", default_value_t = 30)]
    pub qr_per_minute_per_address: u32,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Manage agent accounts (in the database given by --database).
    Agent {
        #[command(subcommand)]
        action: AgentAction,
    },
    /// Print a user token signed with --app-secret, as an embedding app would make it.
    Token {
        /// The app's id for the user (0 or more, below 10^12).
        #[arg(long)]
        uid: i64,
        /// The name agents see.
        #[arg(long)]
        name: Option<String>,
        /// Seconds the token stays valid.
        #[arg(long, default_value_t = 3600)]
        valid_secs: u64,
    },
    /// Compress the built web app once (brotli and gzip files beside each), for serving.
    Precompress {
        /// The folder of the built web app.
        dir: std::path::PathBuf,
    },
    /// Fill the database with made-up conversations, for the console benchmark.
    Seed {
        #[arg(long, default_value_t = 1000)]
        conversations: u32,
        #[arg(long, default_value_t = 50_000)]
        messages: u32,
        /// Also give them team states (7 in 10 resolved, 1 snoozed, 2 open), assigned to the
        /// agent accounts in turn.
        #[arg(long)]
        team: bool,
    },
    /// Copy everything in the database (--database, typically an SQLite file) into another,
    /// empty one (typically PostgreSQL), with the server stopped. Ids, sequence numbers,
    /// accounts, the server key, friends and read positions are kept.
    CopyTo {
        /// The target: `postgres://user:password@host:port/database` (or an SQLite file).
        target: std::path::PathBuf,
    },
    /// Fill the database with one user's friends and their peer messages, for the friends
    /// benchmark.
    SeedFriends {
        /// The user who has the friends (an app user id).
        #[arg(long, default_value_t = 1)]
        uid: i64,
        #[arg(long, default_value_t = 500)]
        friends: u32,
        #[arg(long, default_value_t = 20_000)]
        messages: u32,
    },
}

#[derive(Subcommand, Debug)]
pub enum AgentAction {
    /// Create an agent, or set a new password for an existing one. The password is read from
    /// --password or, without it, from the first line of standard input.
    Add {
        name: String,
        #[arg(long)]
        password: Option<String>,
    },
    /// Remove an agent; its open sessions end at their next connection.
    Remove { name: String },
    /// List the agents.
    List,
    /// Change an agent's settings: `--capacity N`, the open conversations auto-assignment
    /// gives it at most (default 10, up to 1000; manual takes are not limited).
    Set {
        name: String,
        #[arg(long, value_parser = clap::value_parser!(u32).range(0..=1000))]
        capacity: u32,
    },
}

impl Cli {
    /// The settings of a server started with these options.
    pub fn config(&self) -> Config {
        let secs = |s: u64| Duration::from_secs(s.max(1));
        let frames = self.max_frames_per_second.max(1);
        let per_second =
            |rate: u32| Rate { per_second: f64::from(rate.max(1)), burst: f64::from(rate.max(1)) * 2.0 };
        let per_minute = |count: u32| Rate::per(count, Duration::from_secs(60));
        let text_per_second = f64::from(self.max_text_kib_per_second_per_address.max(1)) * 1024.0;
        Config {
            static_dir: self.static_dir.clone(),
            v1: !self.v0_only,
            app_secret: self.app_secret.clone(),
            trust_user_ids: self.trust_user_ids,
            no_auth: self.insecure_no_auth,
            allowed_origins: self.allowed_origins.clone(),
            public_origins: self.public_origins.clone(),
            console_backends: self.console_backends.clone(),
            branding: kefu_protocol::api::Branding {
                service_name_zh: self.service_name_zh.clone(),
                service_name_en: self.service_name_en.clone(),
                welcome_zh: self.welcome_zh.clone(),
                welcome_en: self.welcome_en.clone(),
            },
            trusted_proxies: self.trusted_proxies.clone(),
            redis: self.redis.clone(),
            session: SessionLimits {
                max_text_utf16: self.max_text,
                max_frames_per_second: frames,
                idle_timeout: secs(self.idle_timeout_secs),
                first_frame_timeout: secs(self.first_frame_timeout_secs),
                max_queued_bytes: self.max_queued_kib.max(64) * 1024,
                global_max_queued_bytes: self.max_queued_total_mib.max(1) * 1024 * 1024,
                write_timeout: secs(self.write_timeout_secs),
            },
            connections: ConnectionLimits {
                max_connections: self.max_connections.max(1),
                max_per_address: self.max_connections_per_address.max(1),
                handshake_timeout: secs(self.handshake_timeout_secs),
            },
            max_frame_bytes: self.max_frame_kib.max(32) * 1024,
            per_user_frames: per_second(self.max_frames_per_second_per_user.unwrap_or(frames * 2)),
            per_address_frames: per_second(self.max_frames_per_second_per_address.unwrap_or(frames * 5)),
            per_address_bytes: Rate { per_second: text_per_second, burst: text_per_second * 16.0 },
            sign_in: SignInLimits {
                workers: self.password_workers.max(1),
                queue: self.sign_in_queue,
                failures_per_name: per_minute(self.sign_in_failures_per_name),
                failures_per_address: per_minute(self.sign_in_failures_per_address),
            },
            guests: GuestLimits {
                per_address: per_minute(self.guests_per_minute_per_address),
                in_all: Rate {
                    per_second: f64::from(self.guests_per_second.max(1)),
                    burst: f64::from(self.guests_per_second.max(1)) * 10.0,
                },
            },
            qr_per_address: per_minute(self.qr_per_minute_per_address),
        }
    }
}

/// Parses `kefu-server` arguments (the first is the program name), as the binary does.
pub fn parse<I, T>(args: I) -> Result<Cli, String>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    Cli::try_parse_from(args).map_err(|err| err.to_string())
}
