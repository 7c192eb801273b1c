//! `kefu-server`: command line of the reference backend.
//!
//! Parses the options, sets up logging, binds the socket and prints the URLs to open.
//! Everything else lives in the library (`kefu_server`).

use clap::Parser;
use kefu_server::{app, Config};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

#[derive(Parser, Debug)]
#[command(name = "kefu-server", version, about = "Kefu reference backend")]
struct Cli {
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
    #[arg(long, env = "KEFU_DATABASE", default_value = "kefu.db")]
    database: std::path::PathBuf,
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

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    // Every connection is a file descriptor: allow as many as the system lets this process have.
    if let Err(err) = rlimit::increase_nofile_limit(u64::MAX) {
        tracing::warn!(%err, "cannot raise the open-file limit");
    }
    if !cli.static_dir.join("index.html").is_file() {
        tracing::warn!(
            dir = %cli.static_dir.display(),
            "no index.html in the static folder: the WebSocket works, the pages do not (build the app with `trunk build --release`)"
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
    };
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
