//! Status benchmark (not run in CI; `scripts/bench-status.sh`): a user page in headless
//! Chromium against the reference server and against the original backend, each stopped
//! (SIGTERM), killed (SIGKILL), frozen (SIGSTOP: a silent dead link) and brought back, and
//! down for 1 s, 8 s and 30 s before coming back. Prints, in ms, the time from the event (or
//! from the backend being ready again) until the page's `[role=status]` shows the new state,
//! polled through WebDriver every 10 ms, as `STATUS <backend> <event>: N ms`. And five 30 s
//! outages one after the other in one page (`KEFU_BENCH_OUTAGES`), each return timed.
#![cfg(not(target_arch = "wasm32"))]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kefu_testkit::browser::with_browsers;
use kefu_testkit::original::Original;
use kefu_testkit::page::{self};
use kefu_testkit::server::{Control, Server};

/// A backend the scenario can signal and restart.
#[derive(Clone)]
enum Backend {
    Reference(Control),
    Original(Arc<Mutex<Original>>),
}

impl Backend {
    /// Carries out `what` (`term`, `kill`, `stop`, `cont`, `start`); returns when it is done
    /// (for `start`: when the backend is listening again).
    async fn ask(&self, what: &'static str) -> Instant {
        match self {
            Backend::Reference(control) => {
                control.ask(what).await;
            }
            Backend::Original(original) => tokio::task::block_in_place(|| {
                let mut original = original.lock().expect("original");
                match what {
                    "term" | "kill" => {
                        original.signal(if what == "term" { libc::SIGTERM } else { libc::SIGKILL });
                        original.wait();
                    }
                    "stop" => original.signal(libc::SIGSTOP),
                    "cont" => original.signal(libc::SIGCONT),
                    "start" => original.restart(),
                    other => panic!("unknown command {other}"),
                }
            }),
        }
        Instant::now()
    }
}

const OUTAGES_S: [u64; 3] = [1, 8, 30];

async fn scenario(name: &'static str, url: String, backend: Backend, rounds: usize) {
    with_browsers(1, move |browsers| async move {
        let user = &browsers[0];
        page::open_online(user, &url).await;
        let wait = |state: &'static str, since: Instant, limit_s: u64| async move {
            page::wait_status(user, state, Duration::from_secs(limit_s)).await;
            since.elapsed().as_millis()
        };
        for _ in 0..rounds {
            // The clock starts just before the signal: `ask` returns once it is delivered.
            let at = Instant::now();
            backend.ask("term").await;
            println!("STATUS {name} stop (SIGTERM) -> offline: {} ms", wait("offline", at, 5).await);
            let ready = backend.ask("start").await;
            println!("STATUS {name} ready after a stop -> online: {} ms", wait("online", ready, 10).await);
            let at = Instant::now();
            backend.ask("kill").await;
            println!("STATUS {name} kill (SIGKILL) -> offline: {} ms", wait("offline", at, 5).await);
            let ready = backend.ask("start").await;
            println!("STATUS {name} ready after a kill -> online: {} ms", wait("online", ready, 10).await);
            let at = Instant::now();
            backend.ask("stop").await;
            println!(
                "STATUS {name} silent dead link (SIGSTOP) -> offline: {} ms",
                wait("offline", at, 10).await
            );
            let at = backend.ask("cont").await;
            println!(
                "STATUS {name} link answers again (SIGCONT) -> online: {} ms",
                wait("online", at, 10).await
            );
            for outage in OUTAGES_S {
                page::wait_status(user, "online", Duration::from_secs(10)).await;
                backend.ask("kill").await;
                page::wait_status(user, "offline", Duration::from_secs(5)).await;
                // The outage itself: the length of time the backend stays down.
                tokio::time::sleep(Duration::from_secs(outage)).await;
                let ready = backend.ask("start").await;
                let took = wait("online", ready, 15).await;
                println!("STATUS {name} ready after a {outage} s outage -> online: {took} ms");
            }
        }
    })
    .await;
}

/// Outages of 30 s, one after the other, in one page (each refused WebSocket attempt made
/// Chromium slower to fail the next: 0.1 s back the first time, 3.6 s by the fourth).
async fn repeated_long_outages(name: &'static str, url: String, backend: Backend, outages: usize) {
    with_browsers(1, move |browsers| async move {
        let user = &browsers[0];
        page::open_online(user, &url).await;
        for n in 1..=outages {
            page::wait_status(user, "online", Duration::from_secs(15)).await;
            backend.ask("kill").await;
            page::wait_status(user, "offline", Duration::from_secs(5)).await;
            // The outage itself: the length of time the backend stays down.
            tokio::time::sleep(Duration::from_secs(30)).await;
            let ready = backend.ask("start").await;
            page::wait_status(user, "online", Duration::from_secs(20)).await;
            let took = ready.elapsed().as_millis();
            println!("STATUS {name} 30 s outage {n} of {outages} in one page -> online: {took} ms");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn status_after_repeated_long_outages_in_one_page() {
    let server = Server::start();
    let url = server.user_url(22, "");
    let (task, control) = Control::take(server);
    let outages = std::env::var("KEFU_BENCH_OUTAGES").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    repeated_long_outages("reference", url, Backend::Reference(control), outages).await;
    task.abort();
}

fn rounds() -> usize {
    std::env::var("KEFU_BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(3)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn status_against_the_reference_server() {
    let server = Server::start();
    let url = server.user_url(21, "");
    let (task, control) = Control::take(server);
    scenario("reference", url, Backend::Reference(control), rounds()).await;
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn status_against_the_original_backend() {
    let original = Original::start();
    let pages = Server::start();
    let url = pages.url(&format!("/?uid=7&server={}", original.ws_base()));
    scenario("original", url, Backend::Original(Arc::new(Mutex::new(original))), rounds()).await;
}
