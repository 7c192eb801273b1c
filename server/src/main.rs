//! `kefu-server`: command line of the reference backend.
//!
//! Parses the options, sets up logging, binds the socket and prints the URLs to open; the
//! subcommands manage agent accounts, sign app tokens and seed benchmark data. Everything
//! else lives in the library (`kefu_server`).

use clap::{Parser, Subcommand};
use kefu_server::auth;
use kefu_server::{app, Config};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

#[derive(Parser, Debug)]
#[command(name = "kefu-server", version, about = "Kefu reference backend")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Address to bind.
    #[arg(long, env = "KEFU_BIND", default_value = "127.0.0.1")]
    bind: std::net::IpAddr,
    /// Port to listen on (0 picks a free one; the chosen port is printed).
    #[arg(long, env = "KEFU_PORT", default_value_t = 8080)]
    port: u16,
    /// Folder holding the built web app (`trunk build` output).
    #[arg(long, env = "KEFU_STATIC_DIR", default_value = "dist")]
    static_dir: std::path::PathBuf,
    /// Longest chat text accepted, in UTF-16 units.
    #[arg(long, env = "KEFU_MAX_TEXT", default_value_t = kefu_protocol::MAX_TEXT_UTF16)]
    max_text: usize,
    /// SQLite database file (created if missing; WAL mode).
    #[arg(long, env = "KEFU_DATABASE", default_value = "kefu.db", global = true)]
    database: std::path::PathBuf,
    /// Secret shared with an embedding app, which signs its users' tokens with it (HS256 JWT).
    #[arg(long, env = "KEFU_APP_SECRET", global = true, hide_env_values = true)]
    app_secret: Option<String>,
    /// Accept user ids without a token, for apps that cannot send one (the original mobile
    /// app). Agents still need to sign in.
    #[arg(long, env = "KEFU_TRUST_USER_IDS")]
    trust_user_ids: bool,
    /// Accept any identity, the agent's included, and serve no `/api`: the original backend's
    /// behaviour, for testing the web app against it. Never for real use.
    #[arg(long, env = "KEFU_INSECURE_NO_AUTH")]
    insecure_no_auth: bool,
    /// Origin (`https://shop.example`) of another site whose pages may connect; repeatable or
    /// comma-separated. The server's own origin is always allowed.
    #[arg(long = "allow-origin", env = "KEFU_ALLOW_ORIGINS", value_delimiter = ',')]
    allowed_origins: Vec<String>,
    /// Frames per second accepted from one connection, bursts up to twice that
    /// (heartbeats not counted).
    #[arg(long, env = "KEFU_MAX_FRAMES_PER_SECOND", default_value_t = 20)]
    max_frames_per_second: u32,
    /// Seconds a connection may stay silent (clients heartbeat every 2 s) before it is closed.
    #[arg(long, env = "KEFU_IDLE_TIMEOUT_SECS", default_value_t = 30)]
    idle_timeout_secs: u64,
    /// Speak only the original protocol (never select `kefu.v1`), like the original backend.
    #[arg(long, env = "KEFU_V0_ONLY")]
    v0_only: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
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
enum AgentAction {
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

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    if let Some(command) = cli.command {
        return match run_command(command, &cli.database, cli.app_secret.as_deref()).await {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("kefu-server: {err}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    // Every connection is a file descriptor: allow as many as the system lets this process have.
    if let Err(err) = rlimit::increase_nofile_limit(u64::MAX) {
        tracing::warn!(%err, "cannot raise the open-file limit");
    }
    if !cli.static_dir.join("index.html").is_file() || !cli.static_dir.join("agent.html").is_file() {
        tracing::warn!(
            dir = %cli.static_dir.display(),
            "no index.html or agent.html in the static folder: the WebSocket works, the pages do not (build the app with scripts/build.sh)"
        );
    }
    let store = match kefu_server::store::Store::open(&cli.database).await {
        Ok(store) => store,
        Err(err) => {
            eprintln!("kefu-server: cannot open the database {}: {err}", cli.database.display());
            return std::process::ExitCode::FAILURE;
        }
    };
    let listener = match tokio::net::TcpListener::bind((cli.bind, cli.port)).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("kefu-server: cannot listen on {}:{}: {err}", cli.bind, cli.port);
            return std::process::ExitCode::FAILURE;
        }
    };
    let addr = match listener.local_addr() {
        Ok(addr) => addr,
        Err(err) => {
            eprintln!("kefu-server: cannot read the bound address: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    // Tests read this line to learn the port; keep its shape.
    println!("kefu-server listening on http://{addr}");
    println!("  user page:     http://{addr}/");
    println!("  agent console: http://{addr}/agent");
    println!("  WebSocket:     ws://{addr}/webSocket/{{userId}}");

    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));
    let config = Config {
        static_dir: cli.static_dir,
        max_text_utf16: cli.max_text,
        max_frames_per_second: cli.max_frames_per_second,
        idle_timeout: std::time::Duration::from_secs(cli.idle_timeout_secs.max(1)),
        v1: !cli.v0_only,
        app_secret: cli.app_secret,
        trust_user_ids: cli.trust_user_ids,
        no_auth: cli.insecure_no_auth,
        allowed_origins: cli.allowed_origins,
    };
    if config.no_auth {
        tracing::warn!("--insecure-no-auth: anyone can connect as anyone, the agent included");
    }
    match app::serve(listener, config, store, shutdown).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("kefu-server: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Cancels on SIGINT or SIGTERM, which starts the graceful shutdown (close 1001 to all).
async fn cancel_on_signal(shutdown: CancellationToken) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt()))
    else {
        tracing::error!("cannot install signal handlers; stop the server with SIGKILL");
        return;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = int.recv() => tracing::info!("SIGINT: shutting down"),
    }
    shutdown.cancel();
}

async fn run_command(
    command: Command,
    database: &std::path::Path,
    app_secret: Option<&str>,
) -> Result<(), String> {
    if let Command::Token { uid, name, valid_secs } = command {
        let secret = app_secret.ok_or("token needs --app-secret (or KEFU_APP_SECRET)")?;
        if !(0..kefu_protocol::GUEST_UID_MIN).contains(&uid) {
            return Err(format!("uid must be between 0 and {}", kefu_protocol::GUEST_UID_MIN - 1));
        }
        println!("{}", auth::app_token(secret.as_bytes(), uid, name.as_deref(), valid_secs));
        return Ok(());
    }
    let store = kefu_server::store::Store::open(database)
        .await
        .map_err(|err| format!("cannot open the database {}: {err}", database.display()))?;
    match command {
        Command::Agent { action: AgentAction::Add { name, password } } => {
            if !auth::valid_agent_name(&name) {
                return Err("agent name: 1-64 characters, no control characters or surrounding spaces".into());
            }
            let password = match password {
                Some(password) => password,
                // At a terminal, asked for without echo; from a pipe, its first line.
                None if std::io::IsTerminal::is_terminal(&std::io::stdin()) => {
                    rpassword::prompt_password(format!("Password for {name}: "))
                        .map_err(|err| format!("cannot read the password: {err}"))?
                }
                None => {
                    let mut line = String::new();
                    std::io::stdin()
                        .read_line(&mut line)
                        .map_err(|err| format!("cannot read the password: {err}"))?;
                    line.trim_end_matches(['\r', '\n']).to_owned()
                }
            };
            if password.chars().count() < auth::MIN_PASSWORD_CHARS {
                return Err(format!("password: at least {} characters", auth::MIN_PASSWORD_CHARS));
            }
            let hash = auth::hash_password(&password)?;
            let created = store.put_agent(&name, &hash).await.map_err(|err| err.to_string())?;
            println!("agent {name} {}", if created { "created" } else { "password changed" });
        }
        Command::Agent { action: AgentAction::Remove { name } } => {
            if !store.remove_agent(&name).await.map_err(|err| err.to_string())? {
                return Err(format!("no agent named {name}"));
            }
            println!("agent {name} removed");
        }
        Command::Agent { action: AgentAction::List } => {
            for name in store.agent_names().await.map_err(|err| err.to_string())? {
                println!("{name}");
            }
        }
        Command::Seed { conversations, messages } => {
            let started = std::time::Instant::now();
            store.seed(conversations, messages).await.map_err(|err| err.to_string())?;
            println!(
                "seeded {conversations} conversations, {messages} messages into {} in {:.1} s",
                database.display(),
                started.elapsed().as_secs_f64()
            );
        }
        Command::Token { .. } => unreachable!("handled above"),
    }
    Ok(())
}
