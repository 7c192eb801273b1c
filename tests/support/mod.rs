//! Test harness: the real reference server as a child process, and real headless Chromium
//! sessions through ChromeDriver. Every process started here is killed by PID (ChromeDriver
//! by process group, so the Chromium it started goes too) when its guard drops.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Polls `check` every 10 ms until it returns `Some`, or panics with `what` at the deadline.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn server_bin() -> PathBuf {
    let bin = std::env::var_os("KEFU_SERVER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/release/kefu-server"));
    assert!(bin.is_file(), "no server binary at {} (run scripts/build.sh first)", bin.display());
    bin
}

fn dist_dir() -> PathBuf {
    std::env::var_os("KEFU_DIST").map(PathBuf::from).unwrap_or_else(|| repo_root().join("dist"))
}

/// Spawns the server and reads the port from its first line ("... listening on http://ADDR").
fn spawn_server(port: u16, database: &Path, extra_args: &[String]) -> Result<(Child, u16), String> {
    let mut child = Command::new(server_bin())
        .args(["--bind", "127.0.0.1", "--port", &port.to_string(), "--static-dir"])
        .arg(dist_dir())
        .arg("--database")
        .arg(database)
        .args(extra_args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
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

/// The secret test servers share with "the embedding app" (these tests), which signs user
/// tokens with it.
pub const APP_SECRET: &str = "kefu-test-app-secret";
/// The agent account every test server has.
pub const AGENT: &str = "agent";
pub const AGENT_PASSWORD: &str = "agent-password";

/// A user token as an embedding app signs it (HS256 JWT: `sub` = the user id, `name`, `exp`),
/// made here independently of the server's code.
pub fn app_token(uid: i64, name: Option<&str>) -> String {
    app_token_signed(APP_SECRET, uid, name, 3600)
}

pub fn app_token_signed(secret: &str, uid: i64, name: Option<&str>, valid_secs: i64) -> String {
    let exp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs()
        as i64
        + valid_secs;
    let mut claims = serde_json::json!({ "sub": uid.to_string(), "exp": exp });
    if let Some(name) = name {
        claims["name"] = name.into();
    }
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("sign a token")
}

/// An HTTP client that returns error statuses as responses, for tests to check them.
pub fn http() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().new_agent()
}

/// Runs a `kefu-server` subcommand on `database`; returns its exit status and output.
pub fn server_command(database: &Path, args: &[&str]) -> (bool, String) {
    let output = Command::new(server_bin())
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

/// A running reference server with its own SQLite file (kept across restarts).
pub struct Server {
    child: Child,
    pub port: u16,
    pub database: PathBuf,
    extra_args: Vec<String>,
    /// Whether identities are checked (not `--insecure-no-auth`).
    pub accounts: bool,
    agent_token: std::sync::OnceLock<String>,
}

impl Server {
    /// Starts a server on a free port.
    pub fn start() -> Server {
        Server::start_with(0, &[])
    }

    /// Starts a server on `port` (0: any free port) with extra command-line options.
    /// Unless told `--insecure-no-auth`, the server gets [`APP_SECRET`] and the [`AGENT`]
    /// account.
    pub fn start_with(port: u16, extra_args: &[&str]) -> Server {
        Server::start_on(fresh_database(), port, extra_args)
    }

    /// Starts a server whose database was first filled by `kefu-server seed`.
    pub fn start_seeded(conversations: u32, messages: u32) -> Server {
        let database = fresh_database();
        let (c, m) = (conversations.to_string(), messages.to_string());
        let (ok, output) = server_command(&database, &["seed", "--conversations", &c, "--messages", &m]);
        assert!(ok, "seed: {output}");
        println!("{}", output.trim());
        Server::start_on(database, 0, &[])
    }

    fn start_on(database: PathBuf, port: u16, extra_args: &[&str]) -> Server {
        let mut extra_args: Vec<String> = extra_args.iter().map(|s| s.to_string()).collect();
        let accounts = !extra_args.iter().any(|a| a == "--insecure-no-auth");
        if accounts {
            extra_args.extend(["--app-secret".to_owned(), APP_SECRET.to_owned()]);
            let (ok, output) =
                server_command(&database, &["agent", "add", AGENT, "--password", AGENT_PASSWORD]);
            assert!(ok, "create the test agent: {output}");
        }
        let (child, port) = spawn_server(port, &database, &extra_args).unwrap_or_else(|err| panic!("{err}"));
        Server { child, port, database, extra_args, accounts, agent_token: std::sync::OnceLock::new() }
    }

    /// Signs in on `/api/agent/session`: (HTTP status, JSON body).
    pub fn sign_in(&self, name: &str, password: &str) -> (u16, serde_json::Value) {
        let mut response = http()
            .post(&self.url("/api/agent/session"))
            .send_json(serde_json::json!({ "name": name, "password": password }))
            .expect("POST /api/agent/session");
        let status = response.status().as_u16();
        let body = response.body_mut().read_json().unwrap_or(serde_json::Value::Null);
        (status, body)
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
        let sep = if query.is_empty() { "" } else { "&" };
        self.url(&format!("/?uid={uid}&token={}{sep}{query}", app_token(uid, name)))
    }

    /// Starts the server again on the same port after it stopped.
    pub fn restart(&mut self) {
        let _ = self.child.wait();
        // The port may stay busy for a moment after a kill; retry briefly.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match spawn_server(self.port, &self.database, &self.extra_args) {
                Ok((child, _)) => {
                    self.child = child;
                    return;
                }
                Err(err) if Instant::now() >= deadline => panic!("{err}"),
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
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

    /// The WebSocket URL of `uid` with no token.
    pub fn bare_ws_url(&self, uid: &str) -> String {
        format!("ws://127.0.0.1:{}/webSocket/{uid}", self.port)
    }

    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's PID.
        let rc = unsafe { libc::kill(self.pid(), signal) };
        assert_eq!(rc, 0, "kill({}, {signal}) failed", self.pid());
    }

    /// Waits for the process to exit after a signal.
    pub fn wait(&mut self) -> std::process::ExitStatus {
        self.child.wait().expect("wait for kefu-server")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // SIGCONT first in case a test left it stopped; SIGKILL does not need it but is tidy.
        unsafe {
            libc::kill(self.pid(), libc::SIGCONT);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        remove_database(&self.database);
    }
}

/// A ChromeDriver process (in its own process group) for one test.
pub struct Driver {
    child: Child,
    pub port: u16,
    profiles: Vec<PathBuf>,
}

impl Driver {
    pub fn start() -> Driver {
        use std::os::unix::process::CommandExt;
        let port = free_port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start chromedriver (install chromium-driver: scripts/setup.sh --browser)");
        let driver = Driver { child, port, profiles: vec![] };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start listening");
            std::thread::sleep(Duration::from_millis(20));
        }
        driver
    }

    /// Opens a session with the given UI language and window size.
    pub async fn browser_with(&mut self, lang: &str, size: (u32, u32)) -> fantoccini::Client {
        self.browser_with_prefs(lang, size, serde_json::json!({})).await
    }

    /// [`Driver::browser_with`] with Chromium preferences (`goog:chromeOptions.prefs`).
    pub async fn browser_with_prefs(
        &mut self,
        lang: &str,
        (width, height): (u32, u32),
        prefs: serde_json::Value,
    ) -> fantoccini::Client {
        let profile =
            std::env::temp_dir().join(format!("kefu-chromium-{}-{}", std::process::id(), free_port()));
        std::fs::create_dir_all(&profile).expect("create profile dir");
        self.profiles.push(profile.clone());
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    format!("--lang={lang}"),
                    format!("--window-size={width},{height}"),
                    format!("--user-data-dir={}", profile.display()),
                ],
                "prefs": prefs,
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        fantoccini::ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("open a Chromium session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the process group we created for chromedriver and its browsers.
        unsafe {
            libc::kill(-(self.child.id() as i32), libc::SIGKILL);
        }
        let _ = self.child.wait();
        for profile in &self.profiles {
            let _ = std::fs::remove_dir_all(profile);
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("find a free port")
}

/// Runs a browser scenario so that the sessions are always closed, even when it panics,
/// and then re-raises the panic. Sessions are English and phone-sized.
pub async fn with_browsers<F, Fut>(count: usize, scenario: F)
where
    F: FnOnce(Vec<fantoccini::Client>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    with_sessions(&vec![("en-US", (420, 860)); count], scenario).await
}

/// [`with_browsers`] with a language and window size for each session.
pub async fn with_sessions<F, Fut>(specs: &[(&str, (u32, u32))], scenario: F)
where
    F: FnOnce(Vec<fantoccini::Client>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let specs: Vec<_> = specs.iter().map(|(lang, size)| (*lang, *size, serde_json::json!({}))).collect();
    with_sessions_and_prefs(&specs, scenario).await
}

/// Chromium preferences that grant this site's notification permission.
pub fn notifications_allowed() -> serde_json::Value {
    serde_json::json!({ "profile.default_content_setting_values.notifications": 1 })
}

/// [`with_sessions`] with Chromium preferences for each session.
pub async fn with_sessions_and_prefs<F, Fut>(specs: &[(&str, (u32, u32), serde_json::Value)], scenario: F)
where
    F: FnOnce(Vec<fantoccini::Client>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let mut driver = Driver::start();
    let mut clients = Vec::with_capacity(specs.len());
    for (lang, size, prefs) in specs {
        clients.push(driver.browser_with_prefs(lang, *size, prefs.clone()).await);
    }
    let handles = clients.clone();
    let outcome = tokio::spawn(scenario(clients)).await;
    for client in handles {
        let _ = client.close().await;
    }
    drop(driver);
    if let Err(err) = outcome {
        if err.is_panic() {
            std::panic::resume_unwind(err.into_panic());
        }
        panic!("scenario task failed: {err}");
    }
}

/// A Chrome DevTools command through ChromeDriver (`goog/cdp/execute`).
#[derive(Debug)]
pub struct Cdp {
    pub cmd: &'static str,
    pub params: serde_json::Value,
}

impl fantoccini::wd::WebDriverCompatibleCommand for Cdp {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/goog/cdp/execute", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(serde_json::json!({ "cmd": self.cmd, "params": self.params }).to_string()))
    }
}

/// The titles of the browser's open pages (tabs), whichever is current.
pub async fn tab_titles(client: &fantoccini::Client) -> Vec<String> {
    let targets = client
        .issue_cmd(Cdp { cmd: "Target.getTargets", params: serde_json::json!({}) })
        .await
        .expect("Target.getTargets");
    targets["targetInfos"]
        .as_array()
        .map(|targets| {
            targets
                .iter()
                .filter(|t| t["type"] == "page")
                .filter_map(|t| t["title"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Page helpers over WebDriver, reading the stable test hooks (`role`, `data-*`).
pub mod page {
    use super::eventually;
    use fantoccini::{Client, Locator};
    use std::time::Duration;

    pub const LOAD: Duration = Duration::from_secs(20);

    /// `data-state` of the status indicator, or "" before the app has mounted.
    pub async fn status(client: &Client) -> String {
        let value = client
            .execute(
                "const s = document.querySelector('[role=status]'); return s ? s.dataset.state : '';",
                vec![],
            )
            .await
            .expect("read status");
        value.as_str().unwrap_or_default().to_owned()
    }

    pub async fn wait_status(client: &Client, state: &str, timeout: Duration) {
        eventually(&format!("status {state}"), timeout, || async {
            (status(client).await == state).then_some(())
        })
        .await
    }

    /// The messages in the log: (data-from, text, data-delivery).
    pub async fn messages(client: &Client) -> Vec<(String, String, String)> {
        let value = client
            .execute(
                "return [...document.querySelectorAll('[role=log] > li')].map(li => \
                 [li.dataset.from, li.querySelector('.bubble').textContent, li.dataset.delivery]);",
                vec![],
            )
            .await
            .expect("read messages");
        serde_json::from_value(value).expect("messages as triples")
    }

    /// Waits until a message with this text and sender shows with the given delivery.
    pub async fn wait_message(client: &Client, from: &str, text: &str, delivery: &str) {
        eventually(&format!("{from} message {text:?} ({delivery})"), LOAD, || async {
            messages(client)
                .await
                .iter()
                .any(|(f, t, d)| f == from && t == text && d == delivery)
                .then_some(())
        })
        .await
    }

    pub async fn type_and_send(client: &Client, text: &str) {
        let input = client
            .wait()
            .at_most(LOAD)
            .for_element(Locator::Css("input.composer-input"))
            .await
            .expect("input");
        input.send_keys(text).await.expect("type");
        click_send(client).await;
    }

    pub async fn click_send(client: &Client) {
        client
            .find(Locator::Css("button.send"))
            .await
            .expect("send button")
            .click()
            .await
            .expect("click send");
    }

    pub async fn input_value(client: &Client) -> String {
        let input = client.find(Locator::Css("input.composer-input")).await.expect("input");
        input.prop("value").await.expect("value").unwrap_or_default()
    }

    /// Opens the agent console at `url`, signing in as the test agent if it asks.
    pub async fn open_console(client: &Client, url: &str) {
        client.goto(url).await.expect("open agent console");
        let form = eventually("sign-in form or console", LOAD, || async {
            let found = client
                .execute(
                    "return document.querySelector('form.sign-in') ? 'form' : \
                     (document.querySelector('.agent-page') ? 'console' : null);",
                    vec![],
                )
                .await
                .expect("look for the console");
            found.as_str().map(|s| s == "form")
        })
        .await;
        if form {
            sign_in(client, super::AGENT, super::AGENT_PASSWORD).await;
        }
        client
            .wait()
            .at_most(LOAD)
            .for_element(Locator::Css(".agent-page"))
            .await
            .expect("the console after signing in");
    }

    /// Fills in and submits the sign-in form.
    pub async fn sign_in(client: &Client, name: &str, password: &str) {
        let form = client.wait().at_most(LOAD).for_element(Locator::Css("form.sign-in")).await.expect("form");
        form.find(Locator::Css("input[name=name]")).await.expect("name").send_keys(name).await.expect("type");
        let secret = form.find(Locator::Css("input[name=password]")).await.expect("password");
        secret.send_keys(password).await.expect("type");
        form.find(Locator::Css("button[type=submit]")).await.expect("submit").click().await.expect("submit");
    }

    /// The guest identity the page keeps (`{"uid", "token"}`), or `null` without one.
    pub async fn stored_guest(client: &Client) -> serde_json::Value {
        client
            .execute(
                "const k = Object.keys(localStorage).find(k => k.startsWith('kefu.guest.')); \
                 return k ? JSON.parse(localStorage.getItem(k)) : null;",
                vec![],
            )
            .await
            .expect("read the stored guest")
    }

    /// Breaks the signature of the kept guest token, as a server whose key changed would see
    /// it; returns the guest's id.
    pub async fn spoil_guest_token(client: &Client) -> i64 {
        let spoil = "const k = Object.keys(localStorage).find(k => k.startsWith('kefu.guest.')); \
                     const g = JSON.parse(localStorage.getItem(k)); \
                     g.token = g.token.slice(0, -4) + 'AAAA'; localStorage.setItem(k, JSON.stringify(g)); \
                     return g.uid;";
        client.execute(spoil, vec![]).await.expect("spoil the token").as_i64().expect("guest uid")
    }

    pub async fn alert_text(client: &Client) -> Option<String> {
        let value = client
            .execute(
                "const a = document.querySelector('[role=alert]'); return a ? a.textContent : null;",
                vec![],
            )
            .await
            .expect("read alert");
        value.as_str().map(str::to_owned)
    }
}

/// Plain WebSocket clients, for the server tests.
pub mod ws {
    use futures_util::StreamExt;
    use std::time::Duration;
    use tokio_tungstenite::tungstenite::Message;

    pub type Socket =
        tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

    /// How long a test waits for a frame.
    pub const WAIT: Duration = Duration::from_secs(5);

    /// The next text frame (pings and pongs skipped); panics on anything else, a closed
    /// connection, or nothing within [`WAIT`].
    pub async fn next_text(socket: &mut Socket) -> String {
        loop {
            let frame = tokio::time::timeout(WAIT, socket.next())
                .await
                .expect("a frame within the deadline")
                .expect("connection open")
                .expect("no error");
            match frame {
                Message::Text(text) => return text.as_str().to_owned(),
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("unexpected frame {other:?}"),
            }
        }
    }
}
