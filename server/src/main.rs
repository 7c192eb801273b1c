//! `kefu-server`: command line of the reference backend.
//!
//! Parses the options, sets up logging, binds the socket and prints the URLs to open; the
//! subcommands manage agent accounts, sign app tokens and seed benchmark data. Everything
//! else lives in the library (`kefu_server`).

use clap::Parser;
use kefu_server::app;
use kefu_server::auth;
use kefu_server::cli::{AgentAction, Cli, Command};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

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
    kefu_server::passwords::return_large_allocations();
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
            eprintln!(
                "kefu-server: cannot open the database {}: {err}",
                kefu_server::store::shown(&cli.database)
            );
            return std::process::ExitCode::FAILURE;
        }
    };
    let listener = match kefu_server::net::bind(std::net::SocketAddr::new(cli.bind, cli.port), cli.backlog) {
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
    println!("  friends page:  http://{addr}/friends");
    println!("  agent console: http://{addr}/agent");
    println!("  WebSocket:     ws://{addr}{}{{userId}}", kefu_protocol::ENDPOINT_PREFIX);

    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));
    let config = cli.config();
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

/// A subcommand's failure, said for the person at the terminal.
type CommandError = Box<dyn std::error::Error>;

async fn run_command(
    command: Command,
    database: &std::path::Path,
    app_secret: Option<&str>,
) -> Result<(), CommandError> {
    if let Command::Precompress { dir } = &command {
        println!("{:<44} {:>10} {:>10} {:>10}", "file", "bytes", "gzip", "brotli");
        for (name, raw, gzip, brotli) in kefu_server::assets::precompress(dir)? {
            println!("{name:<44} {raw:>10} {gzip:>10} {brotli:>10}");
        }
        return Ok(());
    }
    if let Command::Token { uid, name, valid_secs } = command {
        let secret = app_secret.ok_or("token needs --app-secret (or KEFU_APP_SECRET)")?;
        if !(0..kefu_protocol::GUEST_UID_MIN).contains(&uid) {
            return Err(format!("uid must be between 0 and {}", kefu_protocol::GUEST_UID_MIN - 1).into());
        }
        println!("{}", auth::app_token(secret.as_bytes(), uid, name.as_deref(), valid_secs));
        return Ok(());
    }
    let store = kefu_server::store::Store::open(database)
        .await
        .map_err(|err| format!("cannot open the database {}: {err}", kefu_server::store::shown(database)))?;
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
                return Err(format!("password: at least {} characters", auth::MIN_PASSWORD_CHARS).into());
            }
            let hash = auth::hash_password(&password)?;
            let created = store.put_agent(&name, &hash).await?;
            println!("agent {name} {}", if created { "created" } else { "password changed" });
        }
        Command::Agent { action: AgentAction::Remove { name } } => {
            if !store.remove_agent(&name).await? {
                return Err(format!("no agent named {name}").into());
            }
            println!("agent {name} removed");
        }
        Command::Agent { action: AgentAction::Set { name, capacity } } => {
            if !store.set_capacity(&name, capacity).await? {
                return Err(format!("no agent named {name}").into());
            }
            println!("agent {name}: capacity {capacity}");
        }
        Command::Agent { action: AgentAction::List } => {
            for name in store.agent_names().await? {
                println!("{name}");
            }
        }
        Command::Seed { conversations, messages, team } => {
            let started = std::time::Instant::now();
            store.seed(conversations, messages).await?;
            if team {
                store.seed_team().await?;
            }
            println!(
                "seeded {conversations} conversations, {messages} messages into {} in {:.1} s",
                kefu_server::store::shown(database),
                started.elapsed().as_secs_f64()
            );
        }
        Command::SeedFriends { uid, friends, messages } => {
            let started = std::time::Instant::now();
            let user =
                kefu_protocol::ids::UserId::new(uid).ok_or("uid must be a user id: 0 up to 2^53 - 1")?;
            store.seed_friends(user, friends, messages).await?;
            println!(
                "seeded {friends} friends of user {uid}, {messages} peer messages into {} in {:.1} s",
                kefu_server::store::shown(database),
                started.elapsed().as_secs_f64()
            );
        }
        Command::CopyTo { target } => {
            let started = std::time::Instant::now();
            let into = kefu_server::store::Store::open(&target).await.map_err(|err| {
                format!("cannot open the target {}: {err}", kefu_server::store::shown(&target))
            })?;
            let copied = store.copy_into(&into).await?;
            println!(
                "copied {} messages, {} read positions, {} agents, {} people, {} pairs of friends, {} requests, {} blocks from {} into {} in {:.1} s",
                copied.messages,
                copied.reads,
                copied.agents,
                copied.people,
                copied.pairs,
                copied.requests,
                copied.blocks,
                kefu_server::store::shown(database),
                kefu_server::store::shown(&target),
                started.elapsed().as_secs_f64()
            );
        }
        Command::Token { .. } | Command::Precompress { .. } => unreachable!("handled above"),
    }
    Ok(())
}
