//! `--storm`: the restart storm. N clients connected and chatting, with a heartbeating agent;
//! the backend is killed with SIGKILL and started again, and every client comes back by
//! itself with the web app's own connection state machine (`kefu_core::connection`: the same
//! heartbeat, watchdog and backoff code the pages run, with the same default timing).
//!
//! Measured from the restart (the moment the new process is spawned) and from the backend
//! being ready (its listening line): when 50 %, 99 % and 100 % of clients are back (v1:
//! `ready` received after their resume; v0: a heartbeat answered), the handshake latency of
//! every reconnection, the backend's CPU time and peak memory (`VmHWM`) during the storm, and
//! (v1) messages lost or doubled: each client keeps an outbox as the page does, sends it
//! again after reconnecting until acknowledged, and finally reads its conversation back and
//! checks that every message it wrote is stored exactly once.
//!
//! The backend is the reference server (`--server-bin`, on a fresh SQLite file, with app
//! tokens and a signed-in agent) or the original backend (`--original-classes`, v0 clients;
//! it keeps nothing, so only the return is measured). Exits with 1 when a client did not
//! come back, or a message was lost or doubled.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use kefu_core::connection::{Action, Connection, Event, Timing};
use kefu_protocol::v1::{ClientMessage, Position, ServerMessage, MAX_RESUME_POSITIONS, SUBPROTOCOL};
use kefu_protocol::AGENT_UID;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::{Args, Samples};

type Socket = crate::Socket;

/// The backend under test, as a process the storm can kill and start again on the same port.
enum Backend {
    Reference { bin: PathBuf, database: PathBuf, secret: String },
    Original { classes: PathBuf },
}

impl Backend {
    fn v1(&self) -> bool {
        matches!(self, Backend::Reference { .. })
    }

    /// Starts it on `port` (0: any), on `cpus` if given (a `taskset` list); returns the
    /// process, its port and when it was ready.
    fn spawn(
        &self,
        port: u16,
        one_address: bool,
        cpus: Option<&str>,
    ) -> Result<(Running, u16, Instant), String> {
        let mut command = match self {
            Backend::Reference { bin, database, secret } => {
                let mut command = launcher(bin, cpus);
                command
                    .args([
                        "--port",
                        &port.to_string(),
                        "--static-dir",
                        "/nonexistent",
                        "--app-secret",
                        secret,
                    ])
                    .arg("--database")
                    .arg(database)
                    .env("RUST_LOG", "warn");
                if one_address {
                    // Every client connects from 127.0.0.1: lift the per-address bounds
                    // (per-connection and per-user ones stay). With an address per client
                    // the server runs with its default bounds.
                    command
                        .args(["--max-connections-per-address", "1000000"])
                        .args(["--max-frames-per-second-per-address", "10000000"])
                        .args(["--max-text-kib-per-second-per-address", "10000000"]);
                }
                command
            }
            Backend::Original { classes } => {
                let classpath = std::fs::read_to_string(classes.join("classpath.txt")).map_err(|e| {
                    format!("{}: {e} (build it with ../shared/original-backend/build.sh)", classes.display())
                })?;
                let mut command = launcher("java", cpus);
                command
                    .arg("-Dfile.encoding=UTF-8")
                    .arg("-cp")
                    .arg(format!("{}:{}", classes.display(), classpath.trim()))
                    .args(["original.Main", &port.to_string(), "127.0.0.1"]);
                command
            }
        };
        // KEFU_STORM_BACKEND_LOG=FILE keeps the backend's log (appended), to see why clients
        // were closed.
        let log = match std::env::var_os("KEFU_STORM_BACKEND_LOG") {
            Some(path) => std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map(Stdio::from)
                .map_err(|e| format!("backend log: {e}"))?,
            None => Stdio::null(),
        };
        let mut child =
            command.stdout(Stdio::piped()).stderr(log).spawn().map_err(|e| format!("start backend: {e}"))?;
        let mut lines = BufReader::new(child.stdout.take().ok_or("no stdout")?).lines();
        let ready_word = if self.v1() { "listening" } else { "READY" };
        loop {
            match lines.next() {
                Some(Ok(line)) if line.contains(ready_word) => {
                    let ready = Instant::now();
                    let port = if port != 0 {
                        port
                    } else {
                        line.trim()
                            .rsplit(':')
                            .next()
                            .and_then(|p| p.parse().ok())
                            .ok_or("no port in the ready line")?
                    };
                    std::thread::spawn(move || lines.for_each(drop));
                    return Ok((Running(child), port, ready));
                }
                Some(Ok(_)) => {}
                _ => {
                    let _ = child.kill();
                    return Err("the backend did not start".into());
                }
            }
        }
    }
}

/// The backend process, killed (by PID) when dropped, so that no error path leaves it behind.
struct Running(Child);

impl Running {
    fn id(&self) -> u32 {
        self.0.id()
    }

    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill();
    }
}

/// CPU time (user + system, in clock ticks of 10 ms) and peak RSS (kB) of a process.
fn cpu_and_peak(pid: u32) -> (u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks = fields.get(11).and_then(|u| u.parse::<u64>().ok()).unwrap_or(0)
        + fields.get(12).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let peak = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    (ticks, peak)
}

/// What the storm's phases tell the clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Chatting,
    /// Stop writing new messages; keep sending the outbox until it is empty.
    Quiet,
    /// Read the conversation back and report.
    Verify,
}

/// A command running `program`, on `cpus` only when given (through `taskset -c`, which execs
/// it: the pid stays the backend's).
fn launcher(program: impl AsRef<std::ffi::OsStr>, cpus: Option<&str>) -> Command {
    match cpus {
        Some(cpus) => {
            let mut command = Command::new("taskset");
            command.arg("-c").arg(cpus).arg(program);
            command
        }
        None => Command::new(program),
    }
}

/// Shared by the clients.
struct Shared {
    url: String,
    /// The backend's address (the host and port of `url`).
    server: SocketAddr,
    v1: bool,
    start: Instant,
    timing: Timing,
    /// When the backend was restarted (ms since start; 0: not yet).
    restarted_ms: AtomicU64,
    /// Clients back (ready) since the restart, and when each came back (ms since start).
    back_ms: Mutex<Vec<u64>>,
    /// When the agent was back (ms since start; 0: not yet).
    agent_back_ms: AtomicU64,
    /// Clients that have been ready once (to know when everyone has connected).
    first_ready: AtomicUsize,
    /// Handshake durations (µs) of connections opened after the restart.
    handshakes_us: Mutex<Vec<u64>>,
    chat_every: Duration,
}

impl Shared {
    fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }
}

/// What a client found at the end.
#[derive(Default)]
struct Outcome {
    written: usize,
    lost: usize,
    doubled: usize,
    verified: bool,
}

/// The loopback address client `n` connects from: 127.1.0.1 onwards, one per client, as
/// browsers each have their own. All from 127.0.0.1 instead, a reconnecting client's new port
/// often matches a connection the killed server left in TIME_WAIT (10,000 of them, all to
/// that one address), which answers its SYN with an ACK: the client waits for the SYN
/// retransmission, 1 s (the kernel's `TCPSynRetrans`, about 7,300 of 10,000 per storm).
fn source_address(n: usize) -> Ipv4Addr {
    let n = n as u32 + 1;
    Ipv4Addr::new(127, 1 + (n >> 16) as u8, (n >> 8) as u8, n as u8)
}

async fn open(
    shared: &Shared,
    uid: i64,
    token: Option<&str>,
    source: Option<Ipv4Addr>,
) -> Result<Socket, String> {
    let url = kefu_protocol::endpoint_url_with_token(&shared.url, uid, token);
    let mut request = url.as_str().into_client_request().map_err(|e| e.to_string())?;
    if shared.v1 {
        request.headers_mut().insert("Sec-WebSocket-Protocol", SUBPROTOCOL.parse().map_err(|_| "header")?);
    }
    let stream = match source {
        Some(address) => {
            let socket = tokio::net::TcpSocket::new_v4().map_err(|e| e.to_string())?;
            socket.bind(SocketAddr::from((address, 0))).map_err(|e| format!("bind {address}: {e}"))?;
            socket.connect(shared.server).await
        }
        None => tokio::net::TcpStream::connect(shared.server).await,
    }
    .map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let plain = tokio_tungstenite::MaybeTlsStream::Plain(stream);
    let (socket, _) =
        tokio_tungstenite::client_async_with_config(request, plain, Some(crate::small_buffers()))
            .await
            .map_err(|e| e.to_string())?;
    Ok(socket)
}

/// One client: the page's connection state machine, its outbox, its last `seq` per
/// conversation (the agent: many; a user: its own).
async fn client(
    shared: Arc<Shared>,
    uid: i64,
    token: Option<String>,
    source: Option<Ipv4Addr>,
    seed: u64,
    mut phase: watch::Receiver<Phase>,
) -> Outcome {
    let agent = uid == AGENT_UID;
    let mut machine = Connection::new(shared.timing, seed);
    let mut actions = machine.handle(Event::Enable, shared.now_ms());
    let mut socket: Option<Socket> = None;
    let mut ready = false;
    let mut positions: HashMap<kefu_protocol::v1::ConversationId, u64> = HashMap::new();
    let mut outbox: Vec<(String, String)> = vec![];
    let mut written: Vec<String> = vec![];
    let (mut counted_first, mut counted_back) = (false, false);
    // First message at a random point of the interval, so that the total rate is steady.
    let offset = Duration::from_millis(seed % shared.chat_every.as_millis().max(1) as u64);
    let mut next_message = tokio::time::Instant::now() + offset;
    loop {
        while let Some(action) = (!actions.is_empty()).then(|| actions.remove(0)) {
            match action {
                Action::Open => {
                    let started = Instant::now();
                    let limit = Duration::from_millis(shared.timing.connect_timeout_ms);
                    match tokio::time::timeout(limit, open(&shared, uid, token.as_deref(), source)).await {
                        Ok(Ok(mut opened)) => {
                            if shared.restarted_ms.load(Ordering::SeqCst) > 0 {
                                shared
                                    .handshakes_us
                                    .lock()
                                    .map(|mut h| h.push(started.elapsed().as_micros() as u64))
                                    .ok();
                            }
                            let first = if shared.v1 {
                                let mut after: Vec<Position> = positions
                                    .iter()
                                    .map(|(&conversation, &seq)| Position { conversation, seq })
                                    .collect();
                                after.truncate(MAX_RESUME_POSITIONS);
                                ClientMessage::Resume { after }.encode()
                            } else {
                                kefu_protocol::HEARTBEAT.to_owned()
                            };
                            if opened.send(Message::text(first)).await.is_ok() {
                                socket = Some(opened);
                                ready = false;
                                actions.extend(machine.handle(Event::Opened, shared.now_ms()));
                            } else {
                                actions.extend(machine.handle(Event::Closed, shared.now_ms()));
                            }
                        }
                        _ => actions.extend(machine.handle(Event::Closed, shared.now_ms())),
                    }
                }
                Action::SendHeartbeat => {
                    let sent = match socket.as_mut() {
                        Some(s) => s.send(Message::text(kefu_protocol::HEARTBEAT)).await.is_ok(),
                        None => false,
                    };
                    if !sent && socket.take().is_some() {
                        actions.extend(machine.handle(Event::Closed, shared.now_ms()));
                    }
                }
                Action::Close => socket = None,
            }
        }
        let current = *phase.borrow();
        if current == Phase::Verify && ready {
            break;
        }
        let chatting = shared.v1 && !agent && ready && current == Phase::Chatting;
        tokio::select! {
            frame = async { socket.as_mut().expect("guarded").next().await }, if socket.is_some() => {
                let now = shared.now_ms();
                let text = match frame {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                        socket = None;
                        ready = false;
                        actions.extend(machine.handle(Event::Closed, now));
                        continue;
                    }
                    Some(Ok(_)) => continue,
                };
                actions.extend(machine.handle(Event::FrameReceived, now));
                let became_ready = if shared.v1 {
                    match ServerMessage::decode(text.as_str()) {
                        Ok(ServerMessage::Ready) => true,
                        Ok(ServerMessage::Message(m)) => {
                            let seq = positions.entry(m.conversation).or_insert(0);
                            *seq = (*seq).max(m.seq);
                            false
                        }
                        Ok(ServerMessage::Ack { id, conversation, seq }) => {
                            outbox.retain(|(pending, _)| *pending != id);
                            let known = positions.entry(conversation).or_insert(0);
                            *known = (*known).max(seq);
                            false
                        }
                        _ => false,
                    }
                } else {
                    text.as_str() == kefu_protocol::HEARTBEAT_ACK && !ready
                };
                if became_ready {
                    ready = true;
                    if !counted_first {
                        counted_first = true;
                        shared.first_ready.fetch_add(1, Ordering::SeqCst);
                    }
                    let restarted = shared.restarted_ms.load(Ordering::SeqCst);
                    if restarted > 0 && !counted_back {
                        counted_back = true;
                        shared.back_ms.lock().map(|mut b| b.push(now)).ok();
                        if agent {
                            shared.agent_back_ms.store(now, Ordering::SeqCst);
                        }
                    }
                    // The outbox again, as the page does after every resume.
                    if let Some(s) = socket.as_mut() {
                        for (id, text) in &outbox {
                            let frame = ClientMessage::Send { id: id.clone(), conversation: None, text: text.clone() };
                            let _ = s.send(Message::text(frame.encode())).await;
                        }
                    }
                }
            }
            _ = tokio::time::sleep_until(next_message), if chatting => {
                next_message += shared.chat_every;
                let id = format!("s{uid}-{}", written.len());
                let text = format!("storm {id}");
                written.push(id.clone());
                outbox.push((id.clone(), text.clone()));
                let frame = ClientMessage::Send { id, conversation: None, text };
                if let Some(s) = socket.as_mut() {
                    let _ = s.send(Message::text(frame.encode())).await;
                }
                actions.extend(machine.handle(Event::MessageSent, shared.now_ms()));
            }
            // The page ticks every 100 ms; while connected, heartbeats need no finer clock
            // than 500 ms, which spares the generator's CPU for 10,000 clients.
            _ = tokio::time::sleep(Duration::from_millis(if machine.retry_at().is_some() { 100 } else { 500 })) => {
                actions.extend(machine.handle(Event::Tick, shared.now_ms()));
            }
            _ = phase.changed() => {}
        }
        if socket.is_none() {
            ready = false;
        }
    }
    if !shared.v1 || agent {
        return Outcome { verified: true, ..Outcome::default() };
    }
    verify(&mut socket, uid, &written, outbox.len()).await
}

/// Reads the client's conversation back: every message it wrote must be there exactly once.
async fn verify(socket: &mut Option<Socket>, uid: i64, written: &[String], unsent: usize) -> Outcome {
    let mut outcome = Outcome { written: written.len(), lost: unsent, ..Outcome::default() };
    let Some(s) = socket.as_mut() else { return outcome };
    let ask = ClientMessage::History {
        conversation: kefu_protocol::v1::ConversationId::new(uid).expect("a user id"),
        before: 0,
        limit: Some(kefu_protocol::v1::MAX_PAGE),
    };
    if s.send(Message::text(ask.encode())).await.is_err() {
        return outcome;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while let Ok(Some(Ok(frame))) = tokio::time::timeout_at(deadline, s.next()).await {
        let Message::Text(text) = frame else { continue };
        if let Ok(ServerMessage::History { messages, .. }) = ServerMessage::decode(text.as_str()) {
            let mut counts: HashMap<&str, usize> = HashMap::new();
            for message in &messages {
                *counts.entry(message.id.as_str()).or_default() += 1;
            }
            outcome.lost = written.iter().filter(|id| !counts.contains_key(id.as_str())).count();
            outcome.doubled = counts.values().filter(|&&n| n > 1).count();
            outcome.verified = true;
            break;
        }
    }
    outcome
}

/// Signs the agent in over plain HTTP; returns its session token.
async fn agent_session(port: u16) -> Result<String, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = r#"{"name":"storm","password":"storm-password"}"#;
    let request = format!(
        "POST {} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        kefu_protocol::api::AGENT_SESSION_PATH,
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.map_err(|e| e.to_string())?;
    stream.write_all(request.as_bytes()).await.map_err(|e| e.to_string())?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.map_err(|e| e.to_string())?;
    let json = answer.split_once("\r\n\r\n").map(|(_, body)| body).unwrap_or_default();
    let value: serde_json::Value =
        serde_json::from_str(json).map_err(|e| format!("sign-in answer: {e}: {answer}"))?;
    value["token"].as_str().map(str::to_owned).ok_or_else(|| format!("no token: {answer}"))
}

fn percentile(sorted: &[u64], q: f64) -> Option<u64> {
    (!sorted.is_empty())
        .then(|| sorted[((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1])
}

pub(crate) async fn run(args: &Args) -> Result<bool, String> {
    let work = std::env::temp_dir().join(format!("kefu-storm-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    let secret = "storm-benchmark-secret".to_owned();
    let backend = match (&args.server_bin, &args.original_classes) {
        (Some(bin), None) => {
            let database = work.join("storm.db");
            let added = Command::new(bin)
                .arg("--database")
                .arg(&database)
                .args(["agent", "add", "storm", "--password", "storm-password"])
                .output()
                .map_err(|e| format!("{}: {e}", bin.display()))?;
            if !added.status.success() {
                return Err(format!("agent add: {}", String::from_utf8_lossy(&added.stderr)));
            }
            Backend::Reference { bin: bin.clone(), database, secret: secret.clone() }
        }
        (None, Some(classes)) => Backend::Original { classes: classes.clone() },
        _ => return Err("--storm needs --server-bin or --original-classes".into()),
    };
    // The reference server picks a port and says it; the original is given a free one.
    let first_port = match backend {
        Backend::Reference { .. } => 0,
        Backend::Original { .. } => std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .map_err(|e| e.to_string())?,
    };
    let one_address = args.storm_one_address;
    let cpus = args.storm_backend_cpus.as_deref();
    let (mut child, port, _) = backend.spawn(first_port, one_address, cpus)?;
    let agent_token = if backend.v1() { Some(agent_session(port).await?) } else { None };
    let shared = Arc::new(Shared {
        url: format!("ws://127.0.0.1:{port}{}", kefu_protocol::ENDPOINT_PREFIX),
        server: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        v1: backend.v1(),
        start: Instant::now(),
        timing: Timing::default(),
        restarted_ms: AtomicU64::new(0),
        back_ms: Mutex::new(vec![]),
        agent_back_ms: AtomicU64::new(0),
        first_ready: AtomicUsize::new(0),
        handshakes_us: Mutex::new(vec![]),
        chat_every: Duration::from_millis(args.storm_chat_every_ms.max(100)),
    });
    let (phase_tx, phase_rx) = watch::channel(Phase::Chatting);
    let clients = args.clients as usize;
    let mut tasks = vec![];
    let agent_args = (shared.clone(), agent_token, phase_rx.clone());
    tasks.push(tokio::spawn(client(agent_args.0, AGENT_UID, agent_args.1, None, 1, agent_args.2)));
    // Ramp up as pages open over time, not all in one instant.
    let ramp = Duration::from_secs_f64(1.0 / f64::from(args.connect_parallelism.max(1) as u32) / 5.0);
    for n in 0..clients {
        // The original knows users 1..=100; any id may connect and heartbeat.
        let uid = if backend.v1() { args.first_uid + n as i64 } else { n as i64 + 1 };
        let token = if backend.v1() { crate::app_token(&secret, uid) } else { None };
        let seed = (n as u64 + 2).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let source = (!one_address).then(|| source_address(n));
        tasks.push(tokio::spawn(client(shared.clone(), uid, token, source, seed, phase_rx.clone())));
        tokio::time::sleep(ramp).await;
    }
    let everyone = clients + 1;
    let wait_until = |what: &'static str, limit: Duration, done: Box<dyn Fn() -> bool>| async move {
        let deadline = Instant::now() + limit;
        while !done() {
            if Instant::now() > deadline {
                return Err(format!("timed out waiting for {what}"));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    };
    let counted = shared.clone();
    wait_until(
        "every client to connect",
        Duration::from_secs(120),
        Box::new(move || counted.first_ready.load(Ordering::SeqCst) >= everyone),
    )
    .await?;
    println!(
        "{everyone} clients connected (including the agent) in {:.1} s",
        shared.start.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs(args.storm_warm_s)).await;

    // The kill, and the restart after the outage.
    eprintln!("storm: killing the backend");
    child.kill();
    let killed = Instant::now();
    tokio::time::sleep(Duration::from_millis(args.storm_down_ms)).await;
    let restarted = Instant::now();
    shared.restarted_ms.store(shared.now_ms().max(1), Ordering::SeqCst);
    let (mut child, _, ready) = tokio::task::block_in_place(|| backend.spawn(port, one_address, cpus))?;
    eprintln!("storm: backend restarted; waiting for the clients");
    let (cpu_before, _) = cpu_and_peak(child.id());
    let counted = shared.clone();
    let all_back = wait_until(
        "every client back",
        Duration::from_secs(60),
        Box::new(move || counted.back_ms.lock().map(|b| b.len() >= everyone).unwrap_or(false)),
    )
    .await;
    let (cpu_after, peak_kb) = cpu_and_peak(child.id());
    let restarted_ms = shared.restarted_ms.load(Ordering::SeqCst);
    let ready_ms = restarted_ms + ready.duration_since(restarted).as_millis() as u64;
    let mut back: Vec<u64> = shared.back_ms.lock().map(|b| b.clone()).unwrap_or_default();
    back.sort_unstable();
    let mut handshakes: Vec<u64> = shared.handshakes_us.lock().map(|h| h.clone()).unwrap_or_default();
    handshakes.sort_unstable();

    eprintln!("storm: {} of {everyone} back; settling", shared.back_ms.lock().map(|b| b.len()).unwrap_or(0));
    // Settle: stop writing, let every outbox drain, then read everything back.
    phase_tx.send(Phase::Quiet).ok();
    tokio::time::sleep(Duration::from_secs(3)).await;
    phase_tx.send(Phase::Verify).ok();
    let (mut written, mut lost, mut doubled, mut unverified) = (0, 0, 0, 0);
    // One deadline for all: a client that never comes back must not hold the report.
    let verify_deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    for task in tasks {
        match tokio::time::timeout_at(verify_deadline, task).await {
            Ok(Ok(outcome)) => {
                written += outcome.written;
                lost += outcome.lost;
                doubled += outcome.doubled;
                unverified += usize::from(!outcome.verified);
            }
            _ => unverified += 1,
        }
    }
    child.kill();
    let _ = std::fs::remove_dir_all(&work);

    let ms = |at: Option<u64>, from: u64| {
        at.map(|t| format!("{}", t.saturating_sub(from))).unwrap_or_else(|| "-".into())
    };
    println!(
        "killed; down {} ms; restarted; backend ready {} ms after the restart",
        restarted.duration_since(killed).as_millis(),
        ready.duration_since(restarted).as_millis()
    );
    println!("clients back (ready) of {everyone}: {}", back.len());
    for (label, q) in [("50 %", 0.5), ("99 %", 0.99), ("100 %", 1.0)] {
        let at = if q < 1.0 || back.len() >= everyone { percentile(&back, q) } else { None };
        println!(
            "  {label} back: {} ms after the restart, {} ms after the backend was ready",
            ms(at, restarted_ms),
            ms(at, ready_ms)
        );
    }
    let agent_back = shared.agent_back_ms.load(Ordering::SeqCst);
    println!(
        "  the agent back: {} ms after the restart",
        ms((agent_back > 0).then_some(agent_back), restarted_ms)
    );
    let mut samples = Samples(handshakes);
    samples.report("handshake after the restart");
    if let Some(p999) = percentile(&samples.0, 0.999) {
        println!("  handshake p99.9 = {:.2} ms", p999 as f64 / 1000.0);
    }
    println!(
        "backend during the storm: CPU {:.2} s, peak RSS {:.1} MB",
        (cpu_after.saturating_sub(cpu_before)) as f64 / 100.0,
        peak_kb as f64 / 1024.0
    );
    if backend.v1() {
        println!(
            "messages written {written}: lost {lost}, doubled {doubled}; clients unverified {unverified}"
        );
    } else {
        println!("messages: not measured (the original backend keeps nothing to resume from)");
    }
    if let Err(err) = all_back {
        println!("FAILED: {err}");
        return Ok(false);
    }
    Ok(lost == 0 && doubled == 0 && unverified == 0)
}
