//! Console benchmark (not run in CI; `scripts/bench-console.sh`): the agent console in headless
//! Chromium against a server seeded with 1,000 conversations and 50,000 messages. Prints, in
//! milliseconds measured inside the page with `performance.now()`:
//! - load: navigation until all conversations are listed;
//! - switch: click on a conversation until its messages are in the DOM, and until the next
//!   frame has been painted;
//! - new message: arrival of the WebSocket frame until the message is in the DOM / painted,
//!   for the open conversation and for another one (its row moves to the top).
#![cfg(not(target_arch = "wasm32"))]

use std::time::Duration;

use kefu_protocol::v1::ClientMessage;
use kefu_testkit::bench::{summary, Stages};
use kefu_testkit::browser::{with_sessions, Cdp};
use kefu_testkit::page::{self, run, scripts};
use kefu_testkit::server::Server;
use kefu_testkit::{eventually, ws};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn console_with_a_thousand_conversations() {
    let conversations: u32 =
        std::env::var("KEFU_BENCH_CONVERSATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let messages: u32 =
        std::env::var("KEFU_BENCH_MESSAGES").ok().and_then(|v| v.parse().ok()).unwrap_or(50_000);
    let rounds: usize = std::env::var("KEFU_BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(30);
    let server = Server::start_seeded(conversations, messages);
    let url = server.url("/agent?lang=en");
    let port = server.port;
    let user_ws = move |uid: i64| {
        format!("ws://127.0.0.1:{port}/webSocket/{uid}?token={}", kefu_testkit::app_token(uid, None))
    };
    with_sessions(&[("en-US", (1280, 800))], move |browsers| async move {
        let agent = &browsers[0];
        agent
            .issue_cmd(Cdp {
                cmd: "Page.addScriptToEvaluateOnNewDocument",
                params: serde_json::json!({ "source": scripts::STAMP_FRAMES }),
            })
            .await
            .expect("inject the frame stamp");
        page::open_console(agent, &url).await;
        // Load, measured on a reload with the session kept.
        agent.refresh().await.expect("reload");
        let load_ms = eventually("every conversation listed", Duration::from_secs(120), || async {
            let rows = run(agent, scripts::ROW_COUNT, vec![]).await.as_u64().unwrap_or(0);
            if rows < u64::from(conversations) {
                return None;
            }
            run(agent, scripts::NOW, vec![]).await.as_f64()
        })
        .await;
        println!("{conversations} conversations, {messages} messages seeded; Chromium headless, 1280x800");
        println!("{:<52} {load_ms:.0} ms after navigation", "load: every conversation listed");
        run(agent, scripts::WATCH, vec![]).await;
        // What waiting for the next frame costs by itself, with nothing to render.
        let mut idle = vec![];
        for _ in 0..rounds {
            idle.push(
                agent
                    .execute_async(scripts::IDLE_FRAME, vec![])
                    .await
                    .expect("idle frame")
                    .as_f64()
                    .expect("ms"),
            );
        }
        summary("baseline: nothing to do -> next frame painted", idle);

        // Switching: spread over the list, skipping the one already open.
        let mut switch = Stages::default();
        for round in 0..rounds {
            let index = (round * conversations as usize / rounds + 7) % conversations as usize;
            let result =
                agent.execute_async(scripts::SWITCH_TO_ROW, vec![index.into()]).await.expect("switch");
            switch.push(&result, "start");
        }
        switch.print("switch: click", true);

        // New messages: into the open conversation, then into others (rows re-sort).
        let open_uid = run(agent, scripts::OPEN_CONVERSATION_UID, vec![]).await.as_i64().expect("uid");
        let mut sockets = vec![];
        let others = (1..=i64::from(conversations)).filter(|uid| *uid != open_uid).take(3);
        for (n, uid) in std::iter::once(open_uid).chain(others).enumerate() {
            let mut socket = ws::connect_v1(&user_ws(uid)).await;
            ws::resume(&mut socket, vec![]).await;
            sockets.push((n, socket));
        }
        for (label, which) in [("new message, open conv.", 0usize), ("new message, other conv.", 1)] {
            let mut arrival = Stages::default();
            for round in 0..rounds {
                let text = format!("bench {label} {round}");
                let socket = &mut sockets[if which == 0 { 0 } else { 1 + round % 3 }].1;
                let watch = if which == 0 { "[role=log]" } else { "nav.conversations" };
                run(agent, scripts::ARM_WATCH, vec![text.clone().into(), watch.into()]).await;
                let id = format!("bench-{which}-{round}");
                ws::send(socket, &ClientMessage::Send { id, conversation: None, text: text.clone() }).await;
                let result = agent.execute_async(scripts::WATCH_RESULT, vec![]).await.expect("result");
                arrival.push(&result, "frame");
            }
            arrival.print(&format!("{label}: frame"), true);
        }
    })
    .await;
}
