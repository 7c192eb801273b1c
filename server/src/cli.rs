//! The command line of `kefu-server`: options of the server and its subcommands. Defined in
//! the library so that the tests build the same [`Config`] from the same arguments.

use clap::{Parser, Subcommand};

use crate::Config;

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
    /// SQLite database file (created if missing; WAL mode).
    #[arg(long, env = "KEFU_DATABASE", default_value = "kefu.db", global = true)]
    pub database: std::path::PathBuf,
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
    v0_only: bool,
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
    /// Fill the database with made-up conversations, for the console benchmark.
    Seed {
        #[arg(long, default_value_t = 1000)]
        conversations: u32,
        #[arg(long, default_value_t = 50_000)]
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
}

impl Cli {
    /// The settings of a server started with these options.
    pub fn config(&self) -> Config {
        Config {
            static_dir: self.static_dir.clone(),
            max_text_utf16: self.max_text,
            max_frames_per_second: self.max_frames_per_second,
            idle_timeout: std::time::Duration::from_secs(self.idle_timeout_secs.max(1)),
            v1: !self.v0_only,
            app_secret: self.app_secret.clone(),
            trust_user_ids: self.trust_user_ids,
            no_auth: self.insecure_no_auth,
            allowed_origins: self.allowed_origins.clone(),
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
