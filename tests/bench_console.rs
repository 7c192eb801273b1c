//! Console benchmark (not run in CI; `scripts/bench-console.sh`): the agent console in headless
//! Chromium against a server seeded with 1,000 conversations and 50,000 messages. Prints, in
//! milliseconds measured inside the page with `performance.now()`:
//! - load: navigation until all conversations are listed;
//! - switch: click on a conversation until its messages are in the DOM, and until the next
//!   frame has been painted;
//! - new message: arrival of the WebSocket frame until the message is in the DOM / painted,
//!   for the open conversation and for another one (its row moves to the top).
#![cfg(not(target_arch = "wasm32"))]

mod support;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use kefu_protocol::v1::{ClientMessage, ServerMessage, SUBPROTOCOL};
use support::{page, with_sessions, Cdp, Server};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as Ws;

/// Runs before the app: stamps the arrival of the frame carrying `window.__kefuExpect`.
const STAMP_FRAMES: &str = r#"
(() => {
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (event) => {
        if (window.__kefuExpect && typeof event.data === 'string' && event.data.includes(window.__kefuExpect)) {
          window.__kefuFrameAt = performance.now();
        }
      });
    }
  };
})();
"#;

/// `__kefuWatch(text, selector)` resolves, once the element at `selector` shows `text`, with
/// the `performance.now()` times {dom, layout, painted}: when it was in the DOM, when style
/// and layout were done (forced then), and when the next frame had been painted.
const WATCH: &str = r#"
window.__kefuWatch = (text, selector) => new Promise((resolve) => {
  const shown = () => { const el = document.querySelector(selector); return el && el.textContent.includes(text); };
  const observer = new MutationObserver(() => {
    if (!shown()) return;
    observer.disconnect();
    const dom = performance.now();
    document.body.offsetHeight; // forces style and layout now
    const layout = performance.now();
    requestAnimationFrame(() => setTimeout(() => resolve({ dom, layout, painted: performance.now() }), 0));
  });
  observer.observe(document.body, { childList: true, subtree: true, characterData: true });
});
"#;

/// The (dom, layout, painted) times of a watch result, in ms since its `origin` field.
fn since(result: &serde_json::Value, origin: &str) -> (f64, f64, f64) {
    let origin_ms = result[origin].as_f64().unwrap_or_else(|| panic!("{origin} stamped: {result}"));
    let at = |key: &str| result[key].as_f64().unwrap_or_else(|| panic!("{key}: {result}")) - origin_ms;
    (at("dom"), at("layout"), at("painted"))
}

fn summary(name: &str, mut samples: Vec<f64>) {
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{name:<52} n={:<3} median {:>6.1} ms   p95 {:>6.1} ms   max {:>6.1} ms",
        samples.len(),
        at(0.5),
        at(0.95),
        at(1.0)
    );
}

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
        format!("ws://127.0.0.1:{port}/webSocket/{uid}?token={}", support::app_token(uid, None))
    };
    with_sessions(&[("en-US", (1280, 800))], move |browsers| async move {
        let agent = &browsers[0];
        agent
            .issue_cmd(Cdp {
                cmd: "Page.addScriptToEvaluateOnNewDocument",
                params: serde_json::json!({ "source": STAMP_FRAMES }),
            })
            .await
            .expect("inject the frame stamp");
        page::open_console(agent, &url).await;
        // Load, measured on a reload with the session kept.
        agent.refresh().await.expect("reload");
        let count_rows = "return document.querySelectorAll('button.conversation-item').length;";
        let load_ms = support::eventually("every conversation listed", Duration::from_secs(120), || async {
            let rows = agent.execute(count_rows, vec![]).await.expect("rows").as_u64().unwrap_or(0);
            if rows < u64::from(conversations) {
                return None;
            }
            agent.execute("return performance.now();", vec![]).await.expect("now").as_f64()
        })
        .await;
        println!("{conversations} conversations, {messages} messages seeded; Chromium headless, 1280x800");
        println!("{:<52} {load_ms:.0} ms after navigation", "load: every conversation listed");
        agent.execute(WATCH, vec![]).await.expect("install the watcher");
        // What waiting for the next frame costs by itself, with nothing to render.
        let mut idle = vec![];
        for _ in 0..rounds {
            let script = "const done = arguments[0]; const start = performance.now(); \
                          requestAnimationFrame(() => setTimeout(() => done(performance.now() - start), 0));";
            idle.push(agent.execute_async(script, vec![]).await.expect("idle frame").as_f64().expect("ms"));
        }
        summary("baseline: nothing to do -> next frame painted", idle);

        // Switching: spread over the list, skipping the one already open.
        let (mut to_dom, mut to_layout, mut to_paint) = (vec![], vec![], vec![]);
        for round in 0..rounds {
            let index = (round * conversations as usize / rounds + 7) % conversations as usize;
            let script = r#"
                const [index, done] = arguments;
                const row = document.querySelectorAll('button.conversation-item')[index];
                const expected = row.querySelector('.conversation-preview').textContent;
                const start = performance.now();
                window.__kefuWatch(expected, '[role=log]').then((t) => done({ start, ...t }));
                row.click();
            "#;
            let result = agent.execute_async(script, vec![index.into()]).await.expect("switch");
            let (dom, layout, painted) = since(&result, "start");
            to_dom.push(dom);
            to_layout.push(layout);
            to_paint.push(painted);
        }
        summary("switch: click -> in DOM", to_dom);
        summary("switch: click -> laid out", to_layout);
        summary("switch: click -> next frame painted", to_paint);

        // New messages: into the open conversation, then into others (rows re-sort).
        let open_uid = agent
            .execute("return Number(document.querySelector('button.conversation-item[aria-current=true]').dataset.uid);", vec![])
            .await
            .expect("open conversation")
            .as_i64()
            .expect("uid");
        let mut sockets = vec![];
        let others = (1..=i64::from(conversations)).filter(|uid| *uid != open_uid).take(3);
        for (n, uid) in std::iter::once(open_uid).chain(others).enumerate() {
            let mut request = user_ws(uid).into_client_request().expect("request");
            request.headers_mut().insert("Sec-WebSocket-Protocol", SUBPROTOCOL.parse().expect("header"));
            let (mut socket, _) = tokio_tungstenite::connect_async(request).await.expect("connect");
            socket.send(Ws::text(ClientMessage::Resume { after: vec![] }.encode())).await.expect("resume");
            while let Some(Ok(frame)) = socket.next().await {
                if ServerMessage::decode(frame.to_text().unwrap_or_default()) == Ok(ServerMessage::Ready) {
                    break;
                }
            }
            sockets.push((n, socket));
        }
        for (label, which) in [("new message, open conv.", 0usize), ("new message, other conv.", 1)] {
            let (mut to_dom, mut to_layout, mut to_paint) = (vec![], vec![], vec![]);
            for round in 0..rounds {
                let text = format!("bench {label} {round}");
                let socket = &mut sockets[if which == 0 { 0 } else { 1 + round % 3 }].1;
                let watch = if which == 0 { "[role=log]" } else { "nav.conversations" };
                let arm = format!(
                    "window.__kefuExpect = {text:?}; window.__kefuFrameAt = null; \
                     window.__kefuResult = window.__kefuWatch({text:?}, '{watch}') \
                       .then((t) => ({{ frame: window.__kefuFrameAt, ...t }}));"
                );
                agent.execute(&arm, vec![]).await.expect("arm");
                let id = format!("bench-{which}-{round}");
                socket
                    .send(Ws::text(ClientMessage::Send { id, conversation: None, text: text.clone() }.encode()))
                    .await
                    .expect("send");
                let result =
                    agent.execute_async("window.__kefuResult.then(arguments[0]);", vec![]).await.expect("result");
                let (dom, layout, painted) = since(&result, "frame");
                to_dom.push(dom);
                to_layout.push(layout);
                to_paint.push(painted);
            }
            summary(&format!("{label}: frame -> in DOM"), to_dom);
            summary(&format!("{label}: frame -> laid out"), to_layout);
            summary(&format!("{label}: frame -> next frame painted"), to_paint);
        }
    })
    .await;
}
