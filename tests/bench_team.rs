//! Team inbox benchmarks (not run in CI; `scripts/bench-team.sh`), on a server seeded with
//! 10 agents, 10,000 conversations (7 in 10 resolved, 1 snoozed, 2 open, assigned in turn)
//! and 1,000,000 messages:
//! - **wave**: the 10 agents' consoles connected (raw WebSockets), 1,000 new visitors each
//!   write a first message, paced evenly over 10 s; for each, the time from its send to the
//!   `team_state` naming its assignee at a console (p50, p99, max), and how evenly the 1,000
//!   were spread;
//! - **views**: one agent's console in headless Chromium: a click on each view until its rows
//!   are in the DOM and the next frame is painted, measured in the page.
#![cfg(not(target_arch = "wasm32"))]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use kefu_protocol::v1::{ClientMessage, ServerMessage};
use kefu_testkit::bench::{summary, summary_p99};
use kefu_testkit::browser::with_sessions;
use kefu_testkit::page::{self, run};
use kefu_testkit::server::Server;
use kefu_testkit::{ws, AGENT_PASSWORD};

fn env(name: &str, default: u32) -> u32 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn seeded() -> Server {
    let args = ["--max-connections-per-address", "100000", "--max-frames-per-second-per-address", "100000"];
    Server::start_seeded_team(
        env("KEFU_BENCH_AGENTS", 10),
        1_000,
        env("KEFU_BENCH_CONVERSATIONS", 10_000),
        env("KEFU_BENCH_MESSAGES", 1_000_000),
        &args,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn an_assignment_wave() {
    let (agents, wave) = (env("KEFU_BENCH_AGENTS", 10), env("KEFU_BENCH_WAVE", 1_000));
    let server = seeded();
    // The agents' consoles; the last one times the assignments. Each of the others reads
    // everything it is told (and drops it), so it never falls behind, and heartbeats as the
    // page does (else the server closes it as idle) — from its own connection on.
    let mut watcher = None;
    for n in 1..=agents {
        let (status, body) = server.sign_in(&format!("agent{n}"), AGENT_PASSWORD);
        assert_eq!(status, 200, "{body}");
        let url = format!("{}?token={}", server.bare_ws_url("-1"), body["token"].as_str().expect("token"));
        let mut socket = ws::connect_v1(&url).await;
        ws::resume_raw(&mut socket, vec![]).await;
        if n == agents {
            watcher = Some(socket);
            break;
        }
        tokio::spawn(async move {
            let mut beat = tokio::time::interval(Duration::from_secs(5));
            loop {
                tokio::select! {
                    frame = socket.next() => if frame.is_none() { break },
                    _ = beat.tick() => ws::send_text(&mut socket, kefu_protocol::HEARTBEAT).await,
                }
            }
        });
    }
    let mut watcher = watcher.expect("a console");
    let mut last_beat = Instant::now();
    let first = 1_000_000i64;
    let (sent_tx, mut sent_rx) = tokio::sync::mpsc::unbounded_channel::<(i64, Instant)>();
    let port = server.port;
    let writers = tokio::spawn(async move {
        let pace = Duration::from_secs(10) / wave;
        let start = tokio::time::Instant::now();
        let mut users = vec![];
        for n in 0..i64::from(wave) {
            tokio::time::sleep_until(start + pace * n as u32).await;
            let uid = first + n;
            let url =
                format!("ws://127.0.0.1:{port}/webSocket/{uid}?token={}", kefu_testkit::app_token(uid, None));
            let mut socket = ws::connect_v1(&url).await;
            ws::resume_raw(&mut socket, vec![]).await;
            let sent = Instant::now();
            ws::send(
                &mut socket,
                &ClientMessage::Send { id: format!("w{uid}"), conversation: None, text: "hello".into() },
            )
            .await;
            let _ = sent_tx.send((uid, sent));
            users.push(socket);
        }
        users
    });
    let mut sent: HashMap<i64, Instant> = HashMap::new();
    let mut assigned: HashMap<i64, (Instant, String)> = HashMap::new();
    let started = Instant::now();
    while assigned.len() < wave as usize {
        if last_beat.elapsed() > Duration::from_secs(5) {
            ws::send_text(&mut watcher, kefu_protocol::HEARTBEAT).await;
            last_beat = Instant::now();
        }
        let text = tokio::time::timeout(Duration::from_secs(30), ws::next_text(&mut watcher))
            .await
            .expect("assignments keep coming");
        while let Ok((uid, at)) = sent_rx.try_recv() {
            sent.insert(uid, at);
        }
        if let Ok(ServerMessage::TeamState(state)) = ServerMessage::decode(&text) {
            let uid = state.conversation.get();
            if let (true, Some(who)) = (uid >= first, state.assignee) {
                assigned.entry(uid).or_insert((Instant::now(), who));
            }
        }
    }
    let wave_secs = started.elapsed().as_secs_f64();
    let _users = writers.await.expect("writers");
    while let Ok((uid, at)) = sent_rx.try_recv() {
        sent.insert(uid, at);
    }
    let latencies: Vec<f64> = assigned
        .iter()
        .filter_map(|(uid, (at, _))| Some(at.duration_since(*sent.get(uid)?).as_secs_f64() * 1000.0))
        .collect();
    let mut per_agent: HashMap<&str, u32> = HashMap::new();
    for (_, who) in assigned.values() {
        *per_agent.entry(who.as_str()).or_insert(0) += 1;
    }
    let (most, least) =
        (per_agent.values().max().copied().unwrap_or(0), per_agent.values().min().copied().unwrap_or(0));
    println!(
        "{wave} new conversations over 10 s, {agents} agents connected; all assigned in {wave_secs:.1} s"
    );
    summary_p99("first message -> assignee at a console", latencies);
    let mut shares: Vec<(&str, u32)> = per_agent.into_iter().collect();
    shares.sort();
    println!(
        "spread over {} agents: most {most}, least {least} (even: {}); {shares:?}",
        shares.len(),
        wave / agents
    );
}

/// One console in Chromium: each view clicked, until its rows are in the DOM and painted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn switching_views_in_the_console() {
    let rounds = env("KEFU_BENCH_ROUNDS", 10);
    let server = seeded();
    let url = server.url("/agent?lang=en");
    with_sessions(&[("en-US", (1280, 800))], move |browsers| async move {
        let agent = &browsers[0];
        agent.goto(&url).await.expect("open the console");
        page::sign_in(agent, "agent1", AGENT_PASSWORD).await;
        let loaded = Instant::now();
        let conversations = u64::from(env("KEFU_BENCH_CONVERSATIONS", 10_000));
        let counted = || async {
            let mut total = 0;
            for view in ["all", "snoozed", "resolved"] {
                total += run(agent, COUNT, vec![view.into()]).await.as_u64().unwrap_or(0);
            }
            total
        };
        let waited = Instant::now();
        while counted().await < conversations {
            assert!(
                waited.elapsed() < Duration::from_secs(300),
                "counted {} of {conversations} after 300 s",
                counted().await
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        println!("console loaded (views counted) in {:.1} s", loaded.elapsed().as_secs_f64());
        let mut times: HashMap<&str, Vec<f64>> = HashMap::new();
        for _ in 0..rounds {
            for view in ["mine", "unassigned", "all", "snoozed", "resolved"] {
                let ms = agent.execute_async(SWITCH, vec![view.into()]).await.expect("switch");
                assert!(ms.get(2).is_none(), "{view}: {}", ms[2]);
                let (dom, painted) = (ms[0].as_f64().unwrap_or(f64::NAN), ms[1].as_f64().unwrap_or(f64::NAN));
                times.entry(view).or_default().push(dom);
                times.entry(Box::leak(format!("{view} painted").into_boxed_str())).or_default().push(painted);
            }
        }
        for view in ["mine", "unassigned", "all", "snoozed", "resolved"] {
            let count = run(agent, COUNT, vec![view.into()]).await;
            summary(&format!("{view} ({count}): click -> shown, laid out"), times[view].clone());
            summary(
                &format!("{view}: click -> next frame painted"),
                times[format!("{view} painted").as_str()].clone(),
            );
        }
    })
    .await;
}

/// A view's count as shown.
const COUNT: &str = "const c = document.querySelector(`.view[data-view='${arguments[0]}'] .view-count`); \
     return c ? Number(c.dataset.count) : null;";

/// Clicks view `arguments[0]`; resolves with [ms until its rows are rendered (the button
/// pressed, the list's size the view's count), styled and laid out (forced), ms until the
/// next frame was painted] (a view already shown is switched away
/// from first, a frame before).
const SWITCH: &str = r#"
const [view, done] = [arguments[0], arguments[arguments.length - 1]];
const button = document.querySelector(`.view[data-view='${view}']`);
if (button.getAttribute('aria-pressed') === 'true') {
  document.querySelector(`.view:not([data-view='${view}'])`).click();
}
requestAnimationFrame(() => setTimeout(() => {
  const t0 = performance.now();
  button.click();
  // Shown: the button pressed and the list holding the view's rows (its size as the count).
  const want = Number(button.querySelector('.view-count').dataset.count);
  const shown = () => {
    const first = document.querySelector('.conversation-scroll li');
    return button.getAttribute('aria-pressed') === 'true' &&
      (first ? Number(first.getAttribute('aria-setsize')) === want : want === 0);
  };
  const wait = () => {
    if (performance.now() - t0 > 5000) {
      const first = document.querySelector('.conversation-scroll li');
      return done([NaN, NaN, `not shown: pressed ${button.getAttribute('aria-pressed')}, count ${want}, list ${first && first.getAttribute('aria-setsize')}`]);
    }
    if (!shown()) return setTimeout(wait, 0);
    document.body.offsetHeight;
    const laidOut = performance.now() - t0;
    requestAnimationFrame(() => setTimeout(() => done([laidOut, performance.now() - t0]), 0));
  };
  wait();
}, 0));
"#;
