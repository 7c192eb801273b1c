//! The reference server under test, with its own SQLite file: a real process (for what is
//! about the process: kill -9, SIGTERM, SIGSTOP, the subcommands, the browser tests) or the
//! same server running inside the test (everything else: faster, and no binary needed).
//! Either way it listens on a free port on 127.0.0.1 and is stopped when dropped.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::{app_token, http, repo_root, AGENT, AGENT_PASSWORD, APP_SECRET};

/// The release server binary the scripts build (`KEFU_SERVER_BIN` overrides it).
pub fn release_binary() -> PathBuf {
    let bin = std::env::var_os("KEFU_SERVER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/release/kefu-server"));
    assert!(bin.is_file(), "no server binary at {} (run scripts/build.sh first)", bin.display());
    bin
}

/// The built web app the server serves (`KEFU_DIST` overrides `dist/`).
pub fn dist_dir() -> PathBuf {
    std::env::var_os("KEFU_DIST").map(PathBuf::from).unwrap_or_else(|| repo_root().join("dist"))
}

/// Runs a `kefu-server` subcommand on `database`; returns its exit status and output.
pub fn server_command(bin: &Path, database: &Path, args: &[&str]) -> (bool, String) {
    let output = Command::new(bin)
        .arg("--database")
        .arg(database)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run kefu-server");
    let text =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

/// A fresh database file path for one test server.
fn fresh_database() -> PathBuf {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("kefu-test-{}-{n}.db", std::process::id()));
    remove_database(&path);
    path
}

fn remove_database(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// Spawns the server and reads the port from its first line ("... listening on http://ADDR").
fn spawn(bin: &Path, port: u16, database: &Path, args: &[String]) -> Result<(Child, u16), String> {
    spawn_logging(bin, port, database, args, None)
}

/// [`spawn`], with the log (at `info`) written to `log` when given.
fn spawn_logging(
    bin: &Path,
    port: u16,
    database: &Path,
    args: &[String],
    log: Option<&Path>,
) -> Result<(Child, u16), String> {
    let mut command = Command::new(bin);
    command.args(["--bind", "127.0.0.1", "--port", &port.to_string()]);
    if !args.iter().any(|a| a == "--static-dir") {
        command.arg("--static-dir").arg(dist_dir());
    }
    let mut child = command
        .arg("--database")
        .arg(database)
        .args(args)
        .env("RUST_LOG", if log.is_some() { "info" } else { "warn" })
        .stdout(Stdio::piped())
        .stderr(match log {
            Some(path) => {
                Stdio::from(std::fs::File::create(path).map_err(|err| format!("create the log: {err}"))?)
            }
            None => Stdio::inherit(),
        })
        .spawn()
        .map_err(|err| format!("cannot start kefu-server: {err}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut reader = BufReader::new(stdout);
    let mut first_line = String::new();
    let _ = reader.read_line(&mut first_line);
    // Keep draining so that a later print never meets a closed pipe.
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    let bound = first_line.trim().rsplit(':').next().and_then(|p| p.parse::<u16>().ok());
    match bound {
        Some(port) => Ok((child, port)),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            Err(format!("kefu-server did not start: first line {first_line:?}"))
        }
    }
}

enum Run {
    Process { bin: PathBuf, child: Child, args: Vec<String> },
    InProcess { shutdown: CancellationToken, thread: Option<std::thread::JoinHandle<()>> },
}

/// A running reference server with its own SQLite file (kept across restarts).
pub struct Server {
    pub port: u16,
    pub database: PathBuf,
    /// Whether identities are checked (not `--insecure-no-auth`).
    pub accounts: bool,
    agent_token: OnceLock<String>,
    run: Run,
}

/// The options every test server gets unless it runs `--insecure-no-auth`: the app secret
/// (the account is made separately).
fn with_identities(args: &[&str]) -> (Vec<String>, bool) {
    let mut args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let accounts = !args.iter().any(|a| a == "--insecure-no-auth");
    if accounts {
        args.extend(["--app-secret".to_owned(), APP_SECRET.to_owned()]);
    }
    (args, accounts)
}

impl Server {
    /// The release server process on a free port.
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    /// The release server process with extra command-line options. Unless told
    /// `--insecure-no-auth`, it gets [`APP_SECRET`] and the [`AGENT`] account.
    pub fn start_with(args: &[&str]) -> Server {
        Server::process(&release_binary(), args)
    }

    /// The release server process on `port` (chosen beforehand, so that another server can
    /// be told its origin first).
    pub fn start_on(port: u16, args: &[&str]) -> Server {
        let (bin, database) = (release_binary(), fresh_database());
        let server = Server::process_at_port(&bin, database, port, args, None);
        assert_eq!(server.port, port);
        server
    }

    /// The server process `bin` (a server test passes the binary cargo built for it).
    pub fn process(bin: &Path, args: &[&str]) -> Server {
        Server::process_on(bin, fresh_database(), args)
    }

    /// The release server process, its database first filled by `kefu-server seed`.
    pub fn start_seeded(conversations: u32, messages: u32) -> Server {
        let (bin, database) = (release_binary(), fresh_database());
        let (c, m) = (conversations.to_string(), messages.to_string());
        let (ok, output) =
            server_command(&bin, &database, &["seed", "--conversations", &c, "--messages", &m]);
        assert!(ok, "seed: {output}");
        println!("{}", output.trim());
        Server::process_on(&bin, database, &[])
    }

    /// The release server process on a database seeded for the team benchmark: agent
    /// accounts `agent1`… (password [`AGENT_PASSWORD`], each with `capacity`), then
    /// `kefu-server seed --team`; started with `args`.
    pub fn start_seeded_team(
        agents: u32,
        capacity: u32,
        conversations: u32,
        messages: u32,
        args: &[&str],
    ) -> Server {
        let (bin, database) = (release_binary(), fresh_database());
        for n in 1..=agents {
            let name = format!("agent{n}");
            let (ok, output) =
                server_command(&bin, &database, &["agent", "add", &name, "--password", AGENT_PASSWORD]);
            assert!(ok, "agent add: {output}");
            let (ok, output) = server_command(
                &bin,
                &database,
                &["agent", "set", &name, "--capacity", &capacity.to_string()],
            );
            assert!(ok, "agent set: {output}");
        }
        let (c, m) = (conversations.to_string(), messages.to_string());
        let (ok, output) =
            server_command(&bin, &database, &["seed", "--conversations", &c, "--messages", &m, "--team"]);
        assert!(ok, "seed: {output}");
        println!("{}", output.trim());
        let log = std::env::temp_dir().join(format!("kefu-bench-team-{}.log", std::process::id()));
        println!("server log: {}", log.display());
        Server::process_on_logging(&bin, database, args, &log)
    }

    /// The release server on a fresh database seeded by `kefu-server seed-friends`: user
    /// `uid` with `friends` friends (`uid + 1` …) and `messages` peer messages.
    pub fn start_seeded_friends(uid: i64, friends: u32, messages: u32) -> Server {
        let (bin, database) = (release_binary(), fresh_database());
        let (u, f, m) = (uid.to_string(), friends.to_string(), messages.to_string());
        let (ok, output) = server_command(
            &bin,
            &database,
            &["seed-friends", "--uid", &u, "--friends", &f, "--messages", &m],
        );
        assert!(ok, "seed-friends: {output}");
        println!("{}", output.trim());
        Server::process_on(&bin, database, &[])
    }

    /// [`Server::process`] whose log (at `info`) goes to the file `log`.
    pub fn process_logging(bin: &Path, args: &[&str], log: &Path) -> Server {
        Server::process_at(bin, fresh_database(), args, Some(log))
    }

    /// The server process on `database` (a file, or a PostgreSQL URL as a path).
    pub fn process_on(bin: &Path, database: PathBuf, args: &[&str]) -> Server {
        Server::process_at(bin, database, args, None)
    }

    /// [`Server::process_on`] whose log (at `info`) goes to the file `log`.
    pub fn process_on_logging(bin: &Path, database: PathBuf, args: &[&str], log: &Path) -> Server {
        Server::process_at(bin, database, args, Some(log))
    }

    fn process_at(bin: &Path, database: PathBuf, args: &[&str], log: Option<&Path>) -> Server {
        Server::process_at_port(bin, database, 0, args, log)
    }

    fn process_at_port(
        bin: &Path,
        database: PathBuf,
        port: u16,
        args: &[&str],
        log: Option<&Path>,
    ) -> Server {
        let (args, accounts) = with_identities(args);
        if accounts {
            let (ok, output) =
                server_command(bin, &database, &["agent", "add", AGENT, "--password", AGENT_PASSWORD]);
            assert!(ok, "create the test agent: {output}");
        }
        let (child, port) =
            spawn_logging(bin, port, &database, &args, log).unwrap_or_else(|err| panic!("{err}"));
        let run = Run::Process { bin: bin.to_path_buf(), child, args };
        Server { port, database, accounts, agent_token: OnceLock::new(), run }
    }

    /// The server running inside this test process, on a thread and runtime of its own (so
    /// the test's blocking calls cannot stall it), with the same options as the binary.
    pub fn in_process(args: &[&str]) -> Server {
        let database = fresh_database();
        let (args, accounts) = with_identities(args);
        let mut argv: Vec<String> = vec!["kefu-server".into()];
        if !args.iter().any(|a| a == "--static-dir") {
            argv.extend(["--static-dir".into(), dist_dir().display().to_string()]);
        }
        argv.extend(args);
        let config = kefu_server::cli::parse(argv).unwrap_or_else(|err| panic!("{err}")).config();
        let shutdown = CancellationToken::new();
        let (bound, port) = std::sync::mpsc::channel();
        let (path, stop) = (database.clone(), shutdown.clone());
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a runtime for the server");
            runtime.block_on(async move {
                let store = kefu_server::store::Store::open(&path).await.expect("open the test database");
                if accounts {
                    let hash = kefu_server::auth::hash_password(AGENT_PASSWORD).expect("hash");
                    store.put_agent(AGENT, &hash).await.expect("create the test agent");
                }
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("listen");
                let _ = bound.send(listener.local_addr().expect("address").port());
                if let Err(err) = kefu_server::app::serve(listener, config, store, stop).await {
                    panic!("the server stopped: {err}");
                }
            });
        });
        let port = port.recv().expect("the server in process started");
        Server {
            port,
            database,
            accounts,
            agent_token: OnceLock::new(),
            run: Run::InProcess { shutdown, thread: Some(thread) },
        }
    }

    /// Signs in on the sign-in API: (HTTP status, JSON body).
    pub fn sign_in(&self, name: &str, password: &str) -> (u16, serde_json::Value) {
        let body = kefu_protocol::api::SignIn { name: name.into(), password: password.into() };
        let mut response = http()
            .post(&self.url(kefu_protocol::api::AGENT_SESSION_PATH))
            .send_json(body)
            .expect("POST the sign-in");
        let status = response.status().as_u16();
        let body = response.body_mut().read_json().unwrap_or(serde_json::Value::Null);
        (status, body)
    }

    /// Signs out with agent session `token` (`None`: no `Authorization`); the status.
    pub fn sign_out(&self, token: Option<&str>) -> u16 {
        let mut request = http().delete(&self.url(kefu_protocol::api::AGENT_SESSION_PATH));
        if let Some(token) = token {
            request = request.header("Authorization", &format!("Bearer {token}"));
        }
        request.call().expect("DELETE the session").status().as_u16()
    }

    /// A session token of the test agent (signed in once per server).
    pub fn agent_token(&self) -> String {
        self.agent_token
            .get_or_init(|| {
                let (status, body) = self.sign_in(AGENT, AGENT_PASSWORD);
                assert_eq!(status, 200, "sign in: {body}");
                body["token"].as_str().expect("token").to_owned()
            })
            .clone()
    }

    /// The user page as user `uid` of the embedding app (with its token), plus `query`.
    pub fn user_url(&self, uid: i64, query: &str) -> String {
        self.named_user_url(uid, None, query)
    }

    /// [`Server::user_url`] for a user the app names.
    pub fn named_user_url(&self, uid: i64, name: Option<&str>, query: &str) -> String {
        self.named_page_url("/", uid, name, query)
    }

    /// [`Self::named_user_url`] of the Friends page (`/friends`).
    pub fn named_friends_url(&self, uid: i64, name: Option<&str>, query: &str) -> String {
        self.named_page_url("/friends", uid, name, query)
    }

    fn named_page_url(&self, page: &str, uid: i64, name: Option<&str>, query: &str) -> String {
        let sep = if query.is_empty() { "" } else { "&" };
        self.url(&format!("{page}?uid={uid}&token={}{sep}{query}", app_token(uid, name)))
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The WebSocket URL of `uid` with a valid token (an agent session for `-1`, an app token
    /// for a user); a `uid` that is not a number gets none.
    pub fn ws_url(&self, uid: &str) -> String {
        let bare = self.bare_ws_url(uid);
        match uid.parse::<i64>() {
            Ok(_) if !self.accounts => bare,
            Ok(-1) => format!("{bare}?token={}", self.agent_token()),
            Ok(uid) => format!("{bare}?token={}", app_token(uid, None)),
            Err(_) => bare,
        }
    }

    /// Makes agent account `name` (password [`AGENT_PASSWORD`]) with `capacity` in this
    /// server's database, signs it in, and returns its console's WebSocket URL.
    pub async fn add_agent(&self, name: &str, capacity: Option<u32>) -> String {
        let store = kefu_server::store::Store::open(&self.database).await.expect("open the test database");
        let hash = kefu_server::auth::hash_password(AGENT_PASSWORD).expect("hash");
        store.put_agent(name, &hash).await.expect("make the agent");
        if let Some(capacity) = capacity {
            store.set_capacity(name, capacity).await.expect("set the capacity");
        }
        let (status, body) = self.sign_in(name, AGENT_PASSWORD);
        assert_eq!(status, 200, "sign in {name}: {body}");
        let token = body["token"].as_str().expect("token");
        format!("{}?token={token}", self.bare_ws_url("-1"))
    }

    /// The WebSocket URL of `uid` with no token.
    pub fn bare_ws_url(&self, uid: &str) -> String {
        format!("ws://127.0.0.1:{}{}{uid}", self.port, kefu_protocol::ENDPOINT_PREFIX)
    }

    /// Runs a subcommand of this server's binary on its database.
    pub fn command(&self, args: &[&str]) -> (bool, String) {
        match &self.run {
            Run::Process { bin, .. } => server_command(bin, &self.database, args),
            Run::InProcess { .. } => server_command(&release_binary(), &self.database, args),
        }
    }

    fn child(&mut self) -> &mut Child {
        match &mut self.run {
            Run::Process { child, .. } => child,
            Run::InProcess { .. } => panic!("only a server process can be signalled"),
        }
    }

    pub fn pid(&self) -> i32 {
        match &self.run {
            Run::Process { child, .. } => child.id() as i32,
            Run::InProcess { .. } => panic!("a server in process has no pid of its own"),
        }
    }

    /// The process's peak resident memory so far (`VmHWM`), in bytes.
    pub fn peak_memory(&self) -> u64 {
        self.proc_status("VmHWM:")
    }

    /// The process's resident memory now (`VmRSS`), in bytes.
    pub fn memory(&self) -> u64 {
        self.proc_status("VmRSS:")
    }

    fn proc_status(&self, field: &str) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("read /proc status");
        let kib = status
            .lines()
            .find_map(|line| line.strip_prefix(field))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or_else(|| panic!("{field} in /proc status"));
        kib * 1024
    }

    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's PID.
        let rc = unsafe { libc::kill(self.pid(), signal) };
        assert_eq!(rc, 0, "kill({}, {signal}) failed", self.pid());
    }

    /// Waits for the process to exit after a signal.
    pub fn wait(&mut self) -> std::process::ExitStatus {
        self.child().wait().expect("wait for kefu-server")
    }

    /// Starts the server process again on the same port after it stopped.
    pub fn restart(&mut self) {
        let _ = self.child().wait();
        let Run::Process { bin, args, .. } = &self.run else { unreachable!("checked by child()") };
        let (bin, args) = (bin.clone(), args.clone());
        // The port may stay busy for a moment after a kill; retry briefly.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match spawn(&bin, self.port, &self.database, &args) {
                Ok((child, _)) => {
                    *self.child() = child;
                    return;
                }
                Err(err) if Instant::now() >= deadline => panic!("{err}"),
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        match &mut self.run {
            Run::Process { child, .. } => {
                // SIGCONT first in case a test left it stopped.
                unsafe {
                    libc::kill(child.id() as i32, libc::SIGCONT);
                }
                let _ = child.kill();
                let _ = child.wait();
            }
            Run::InProcess { shutdown, thread } => {
                // Graceful: every session closes (1001), then the runtime ends with the thread.
                shutdown.cancel();
                if let Some(thread) = thread.take() {
                    let _ = thread.join();
                }
            }
        }
        remove_database(&self.database);
    }
}

/// Signals and restarts a server process on request from inside a browser scenario (which
/// runs in its own task): `term`, `kill`, `stop`, `cont`, `start`.
#[derive(Clone)]
pub struct Control(tokio::sync::mpsc::UnboundedSender<(&'static str, tokio::sync::oneshot::Sender<Instant>)>);

impl Control {
    /// Hands the server to a task that obeys the control; abort the task to stop it (the
    /// server is then dropped, which kills it).
    pub fn take(mut server: Server) -> (tokio::task::JoinHandle<()>, Control) {
        let (tx, mut rx) =
            tokio::sync::mpsc::unbounded_channel::<(&'static str, tokio::sync::oneshot::Sender<Instant>)>();
        let task = tokio::spawn(async move {
            while let Some((what, done)) = rx.recv().await {
                let at = Instant::now();
                tokio::task::block_in_place(|| match what {
                    "term" => {
                        server.signal(libc::SIGTERM);
                        server.wait();
                    }
                    "kill" => {
                        server.signal(libc::SIGKILL);
                        server.wait();
                    }
                    "stop" => server.signal(libc::SIGSTOP),
                    "cont" => server.signal(libc::SIGCONT),
                    "start" => server.restart(),
                    other => panic!("unknown command {other}"),
                });
                let _ = done.send(at);
            }
        });
        (task, Control(tx))
    }

    /// Carries out `what`; returns when it was asked.
    pub async fn ask(&self, what: &'static str) -> Instant {
        let (done, at) = tokio::sync::oneshot::channel();
        self.0.send((what, done)).expect("server control alive");
        at.await.expect("server control answered")
    }
}
