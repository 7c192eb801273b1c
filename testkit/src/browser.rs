//! Headless Chromium through ChromeDriver. Each test runs its own ChromeDriver (in its own
//! process group, killed by PID with the Chromium instances it started); sessions are always
//! closed, even when the scenario panics. A session that fails to start is retried once (a
//! fresh machine showed `session not created: Chrome instance exited` once in a full run);
//! if the retry fails too, ChromeDriver's log is printed.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::free_port;

/// A ChromeDriver process for one test.
pub struct Driver {
    child: Child,
    pub port: u16,
    log: PathBuf,
    profiles: Vec<PathBuf>,
}

impl Driver {
    pub fn start() -> Driver {
        use std::os::unix::process::CommandExt;
        let port = free_port();
        let log = std::env::temp_dir().join(format!("kefu-chromedriver-{}-{port}.log", std::process::id()));
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start chromedriver (install chromium-driver: scripts/setup.sh --browser)");
        let driver = Driver { child, port, log, profiles: vec![] };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start listening");
            std::thread::sleep(Duration::from_millis(20));
        }
        driver
    }

    /// Opens a session with the given UI language, window size and Chromium preferences
    /// (`goog:chromeOptions.prefs`); retried once.
    pub async fn session(
        &mut self,
        lang: &str,
        size: (u32, u32),
        prefs: serde_json::Value,
    ) -> fantoccini::Client {
        match self.try_session(lang, size, prefs.clone()).await {
            Ok(client) => client,
            Err(first) => {
                eprintln!("a Chromium session failed to start ({first}); retrying once");
                match self.try_session(lang, size, prefs).await {
                    Ok(client) => client,
                    Err(second) => {
                        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                        let tail: Vec<&str> = log.lines().rev().take(60).collect();
                        eprintln!("ChromeDriver log (last lines):");
                        for line in tail.into_iter().rev() {
                            eprintln!("  {line}");
                        }
                        panic!("open a Chromium session: {second}");
                    }
                }
            }
        }
    }

    async fn try_session(
        &mut self,
        lang: &str,
        (width, height): (u32, u32),
        prefs: serde_json::Value,
    ) -> Result<fantoccini::Client, fantoccini::error::NewSessionError> {
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
        let _ = std::fs::remove_file(&self.log);
    }
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
        clients.push(driver.session(lang, *size, prefs.clone()).await);
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
