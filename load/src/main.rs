//! `kefu-load`: opens many v1 clients against a Kefu backend and measures it.
//!
//! - N user connections, each sending `heartbeat` every interval (first one at a random
//!   offset) and timing the `success` answer: the heartbeat round trip.
//! - One agent connection; users send chat messages at a fixed total rate (each after a
//!   `typing` frame, as a page sends), and the agent times each from send to arrival:
//!   user→agent delivery latency. The agent marks messages read as a console does with the
//!   conversation it shows (at most every [`READ_EVERY`], within its frame rate limit), so
//!   that read positions are written while messages are.
//!
//! Every loop is bounded by `--duration`; it targets only the URL given (use loopback).
//! Prints p50/p99/max and throughput.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod agent_resume;
mod probe;
mod storm;

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use kefu_protocol::v1::{ClientMessage, ServerMessage, SUBPROTOCOL};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// How often the agent marks a conversation read.
const READ_EVERY: Duration = Duration::from_millis(100);

#[derive(Parser, Debug, Clone)]
#[command(about = "Kefu load generator")]
struct Args {
    /// WebSocket base, e.g. ws://127.0.0.1:8080/webSocket/ (not for `--storm`, which starts
    /// its own backend); several, comma-separated, spread the users over them in turn (the
    /// instances of a cluster).
    #[arg(long, default_value = "")]
    url: String,
    /// The agent's WebSocket base, when it is not the (first) `--url`: an agent on another
    /// instance than its users.
    #[arg(long)]
    agent_url: Option<String>,
    /// Number of user connections.
    #[arg(long, default_value_t = 1000)]
    clients: u32,
    /// Heartbeat interval per client, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    heartbeat_ms: u64,
    /// Chat messages per second, in total, from random users to the agent (0: none).
    #[arg(long, default_value_t = 0)]
    rate: u32,
    /// How long to measure, in seconds, once every client is connected.
    #[arg(long, default_value_t = 20)]
    duration: u64,
    /// First user id.
    #[arg(long, default_value_t = 1_000_000)]
    first_uid: i64,
    /// Connections opened in parallel while ramping up.
    #[arg(long, default_value_t = 200)]
    connect_parallelism: usize,
    /// The server's app secret: users connect with tokens signed with it, as an embedding
    /// app's users do (without it, with no token: for `--trust-user-ids` or the original).
    #[arg(long)]
    app_secret: Option<String>,
    /// The agent's session token (from `POST /api/agent/session`).
    #[arg(long)]
    agent_token: Option<String>,
    /// Instead of the load: probe one client's resume -> ready and send -> ack, N times.
    #[arg(long, default_value_t = 0)]
    probe: u32,
    /// Instead of the load: an agent's resume with no positions (every conversation paged),
    /// N times (see agent_resume.rs).
    #[arg(long, default_value_t = 0)]
    agent_resume: u32,
    /// Instead of the load: the restart storm (see storm.rs), against the reference server
    /// started from `--server-bin`, or the original backend from `--original-classes`.
    #[arg(long)]
    storm: bool,
    /// The reference server binary the storm starts, kills and starts again.
    #[arg(long)]
    server_bin: Option<std::path::PathBuf>,
    /// The original backend's compiled classes (`build.sh` of `../shared/original-backend/`).
    #[arg(long)]
    original_classes: Option<std::path::PathBuf>,
    /// Storm: each user writes a message this often (ms).
    #[arg(long, default_value_t = 20_000)]
    storm_chat_every_ms: u64,
    /// Storm: seconds of chatting before the kill.
    #[arg(long, default_value_t = 3)]
    storm_warm_s: u64,
    /// Storm: every client connects from 127.0.0.1 (and the server's per-address bounds are
    /// lifted), instead of each from its own loopback address (127.1.0.1 onwards).
    #[arg(long)]
    storm_one_address: bool,
    /// Storm: run the backend on these CPUs only (a `taskset -c` list, e.g. `0`); run the
    /// generator itself under `taskset -c` on the others, to keep the two apart.
    #[arg(long)]
    storm_backend_cpus: Option<String>,
    /// Storm: how long the backend stays down (ms).
    #[arg(long, default_value_t = 1_000)]
    storm_down_ms: u64,
}

/// The token for `uid`: the agent's session, or a user token signed with the app secret.
fn token_for(args: &Args, uid: i64) -> Option<String> {
    if uid == kefu_protocol::AGENT_UID {
        return args.agent_token.clone();
    }
    app_token(args.app_secret.as_ref()?, uid)
}

/// A user token for `uid` signed with the app secret, valid for a day, as an app signs it.
fn app_token(secret: &str, uid: i64) -> Option<String> {
    let exp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok()?.as_secs() + 24 * 3600;
    let claims = serde_json::json!({ "sub": uid.to_string(), "exp": exp });
    let key = jsonwebtoken::EncodingKey::from_secret(secret.as_bytes());
    jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key).ok()
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A client's socket buffers: 4 KiB each way, as the server's (the default 128 KiB read
/// buffer, zeroed per connection, cost the generator more CPU than the server in a storm).
fn small_buffers() -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(4 * 1024)
}

/// Opens a v1 connection of `uid` (nothing sent yet).
async fn open(base: &str, uid: i64, token: Option<String>) -> Result<Socket, String> {
    let url = kefu_protocol::endpoint_url_with_token(base, uid, token.as_deref());
    let mut request = url.as_str().into_client_request().map_err(|e| e.to_string())?;
    request.headers_mut().insert("Sec-WebSocket-Protocol", SUBPROTOCOL.parse().map_err(|_| "header")?);
    // No Nagle delay, as browsers do: a frame written right after another (typing, then the
    // message) must not wait for the server's delayed ACK.
    let (socket, _) =
        tokio_tungstenite::connect_async_with_config(request, Some(crate::small_buffers()), true)
            .await
            .map_err(|e| e.to_string())?;
    Ok(socket)
}

/// Opens a v1 connection of `uid`, resumes from nothing and waits for `ready`.
async fn connect(base: &str, uid: i64, token: Option<String>) -> Result<Socket, String> {
    let mut socket = open(base, uid, token).await?;
    let resume = ClientMessage::Resume { after: vec![] }.encode();
    socket.send(Message::text(resume)).await.map_err(|e| e.to_string())?;
    // Wait for the end of the replay so that measurements see live traffic only.
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(text)))
                if ServerMessage::decode(text.as_str()) == Ok(ServerMessage::Ready) =>
            {
                return Ok(socket)
            }
            Some(Ok(Message::Close(frame))) => {
                let reason = frame.map(|f| format!("{} {}", u16::from(f.code), f.reason)).unwrap_or_default();
                return Err(format!("closed by the server: {reason}"));
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e.to_string()),
            None => return Err("closed during resume".into()),
        }
    }
}

/// Latency samples in microseconds.
#[derive(Default)]
struct Samples(Vec<u64>);

impl Samples {
    fn report(&mut self, name: &str) {
        self.0.sort_unstable();
        let n = self.0.len();
        if n == 0 {
            println!("{name}: no samples");
            return;
        }
        let at = |q: f64| self.0[((n as f64 * q) as usize).min(n - 1)] as f64 / 1000.0;
        println!(
            "{name}: n={n} p50={:.2} ms p99={:.2} ms max={:.2} ms",
            at(0.50),
            at(0.99),
            *self.0.last().unwrap_or(&0) as f64 / 1000.0
        );
    }
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    raise_fd_limit();
    if args.storm {
        match storm::run(&args).await {
            Ok(true) => return,
            Ok(false) => std::process::exit(1),
            Err(err) => {
                eprintln!("kefu-load: storm failed: {err}");
                std::process::exit(1);
            }
        }
    }
    if args.agent_resume > 0 {
        if let Err(err) = agent_resume::run(&args, args.agent_resume).await {
            eprintln!("kefu-load: agent resume failed: {err}");
            std::process::exit(1);
        }
        return;
    }
    if args.probe > 0 {
        if let Err(err) = probe::run(&args, args.probe).await {
            eprintln!("kefu-load: probe failed: {err}");
            std::process::exit(1);
        }
        return;
    }
    let started = Instant::now();

    // The agent first, so that it sees every message.
    let user_urls: Vec<String> = args.url.split(',').map(str::to_owned).collect();
    let agent_url = args.agent_url.clone().unwrap_or_else(|| user_urls[0].clone());
    let mut agent =
        match connect(&agent_url, kefu_protocol::AGENT_UID, token_for(&args, kefu_protocol::AGENT_UID)).await
        {
            Ok(agent) => agent,
            Err(err) => {
                eprintln!("kefu-load: agent cannot connect: {err}");
                std::process::exit(1);
            }
        };

    // Ramp up the users.
    let semaphore = Arc::new(tokio::sync::Semaphore::new(args.connect_parallelism));
    let mut connecting = Vec::with_capacity(args.clients as usize);
    for n in 0..args.clients {
        let url = user_urls[n as usize % user_urls.len()].clone();
        let (uid, semaphore) = (args.first_uid + i64::from(n), semaphore.clone());
        let token = token_for(&args, uid);
        connecting.push(tokio::spawn(async move {
            let _permit = semaphore.acquire_owned().await;
            connect(&url, uid, token).await.map(|socket| (uid, socket))
        }));
    }
    let mut users = Vec::with_capacity(args.clients as usize);
    let mut failed = 0;
    for task in connecting {
        match task.await {
            Ok(Ok(user)) => users.push(user),
            Ok(Err(err)) => {
                failed += 1;
                if failed <= 3 {
                    eprintln!("kefu-load: a client failed to connect: {err}");
                }
            }
            Err(_) => failed += 1,
        }
    }
    println!(
        "connected {} of {} clients in {:.1} s ({failed} failed)",
        users.len(),
        args.clients,
        started.elapsed().as_secs_f64()
    );

    let deadline = Instant::now() + Duration::from_secs(args.duration);
    let heartbeat_rtts = Arc::new(Mutex::new(Samples::default()));
    let sent_at: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let user_count = users.len() as u64;

    // Each user: heartbeats on its own schedule, and chat messages when told to.
    let mut senders = Vec::with_capacity(users.len());
    let mut tasks = vec![];
    for (index, (uid, socket)) in users.into_iter().enumerate() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        senders.push(tx);
        let rtts = heartbeat_rtts.clone();
        let sent_at = sent_at.clone();
        let interval = Duration::from_millis(args.heartbeat_ms);
        let offset = interval.mul_f64((index as f64 * 0.618_033_988_7) % 1.0);
        tasks.push(tokio::spawn(async move {
            let (mut write, mut read) = socket.split();
            let mut next_beat = tokio::time::Instant::now() + offset;
            let mut beat_sent: Option<Instant> = None;
            let mut errors = 0u64;
            loop {
                tokio::select! {
                    _ = tokio::time::sleep_until(next_beat) => {
                        if Instant::now() >= deadline { break; }
                        beat_sent = Some(Instant::now());
                        if write.send(Message::text(kefu_protocol::HEARTBEAT)).await.is_err() { errors += 1; break; }
                        next_beat += interval;
                    }
                    Some(id) = rx.recv() => {
                        let typing = ClientMessage::Typing { conversation: None };
                        if write.send(Message::text(typing.encode())).await.is_err() { errors += 1; break; }
                        let frame = ClientMessage::Send { id: id.clone(), conversation: None, text: format!("load {id}") };
                        sent_at.lock().map(|mut m| m.insert(id, Instant::now())).ok();
                        if write.send(Message::text(frame.encode())).await.is_err() { errors += 1; break; }
                    }
                    frame = read.next() => match frame {
                        Some(Ok(Message::Text(text))) if text.as_str() == kefu_protocol::HEARTBEAT_ACK => {
                            if let Some(at) = beat_sent.take() {
                                if let Ok(mut rtts) = rtts.lock() { rtts.0.push(at.elapsed().as_micros() as u64); }
                            }
                        }
                        Some(Ok(Message::Text(text))) => {
                            if matches!(ServerMessage::decode(text.as_str()), Ok(ServerMessage::Error { .. })) { errors += 1; }
                        }
                        Some(Ok(_)) => {}
                        _ => { errors += 1; break; }
                    },
                }
            }
            let _ = uid;
            errors
        }));
    }

    // The message schedule: `rate` per second across users, round robin.
    let rate = args.rate;
    let scheduler = tokio::spawn(async move {
        if rate == 0 || senders.is_empty() {
            return 0u64;
        }
        let period = Duration::from_secs_f64(1.0 / f64::from(rate));
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let mut n = 0u64;
        while Instant::now() < deadline {
            tick.tick().await;
            let user = (n % user_count) as usize;
            let _ = senders[user].send(format!("l{n}"));
            n += 1;
        }
        n
    });

    // The agent: delivery latency of every load message.
    let mut delivery = Samples::default();
    let mut delivered = 0u64;
    let (mut reads_sent, mut agent_errors) = (0u64, 0u64);
    let mut last_read = Instant::now();
    let agent_deadline = deadline + Duration::from_secs(2);
    loop {
        let left = agent_deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match tokio::time::timeout(left, agent.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => match ServerMessage::decode(text.as_str()) {
                Ok(ServerMessage::Message(message)) => {
                    if let Some(at) = sent_at.lock().ok().and_then(|mut m| m.remove(&message.id)) {
                        delivery.0.push(at.elapsed().as_micros() as u64);
                        delivered += 1;
                    }
                    if last_read.elapsed() >= READ_EVERY {
                        last_read = Instant::now();
                        let read = ClientMessage::Read {
                            conversation: Some(message.conversation),
                            seq: message.seq,
                        };
                        if agent.send(Message::text(read.encode())).await.is_ok() {
                            reads_sent += 1;
                        }
                    }
                }
                Ok(ServerMessage::Error { .. }) => agent_errors += 1,
                _ => {}
            },
            Ok(Some(Ok(_))) => {}
            _ => break,
        }
    }
    let scheduled = scheduler.await.unwrap_or(0);
    let mut errors = 0;
    for task in tasks {
        errors += task.await.unwrap_or(1);
    }
    println!("measured for {} s, heartbeat every {} ms", args.duration, args.heartbeat_ms);
    heartbeat_rtts.lock().map(|mut s| s.report("heartbeat round trip")).ok();
    if rate > 0 {
        delivery.report("user->agent delivery");
        println!(
            "messages: scheduled {scheduled}, delivered {delivered} ({:.0}/s), lost {}",
            delivered as f64 / args.duration as f64,
            scheduled.saturating_sub(delivered)
        );
    }
    println!("read receipts sent by the agent: {reads_sent}, refused: {agent_errors}");
    println!("client errors: {errors}");
}

/// Many connections need many file descriptors: raise the soft limit to the hard one.
fn raise_fd_limit() {
    if let Err(err) = rlimit::increase_nofile_limit(u64::MAX) {
        eprintln!("kefu-load: cannot raise the open-file limit: {err}");
    }
}
