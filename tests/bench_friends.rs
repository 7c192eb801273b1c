//! Friends benchmark (not run in CI; `scripts/bench-friends.sh`): the user page in headless
//! Chromium for a user with 500 friends and 20,000 peer messages (`kefu-server
//! seed-friends`). Prints, in milliseconds measured inside the page with `performance.now()`:
//! - list: the WebSocket opening (and navigation) until all friends are listed;
//! - open: a click on a friend until the conversation's latest message is in the DOM / laid
//!   out / painted (its first page of history asked of the server on the way), and back;
//! - new message: arrival of the friend's frame until it is in the DOM / laid out / painted,
//!   in the open conversation and in the friends list (the row takes the preview and moves up).
#![cfg(not(target_arch = "wasm32"))]

use std::time::Duration;

use kefu_protocol::v1::{ClientMessage, ServerMessage};
use kefu_testkit::bench::{summary, Stages};
use kefu_testkit::browser::{with_sessions, Cdp};
use kefu_testkit::page::{run, scripts};
use kefu_testkit::server::Server;
use kefu_testkit::{eventually, ws};

const ME: i64 = 1;

fn setting(name: &str, default: u32) -> u32 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn a_user_with_five_hundred_friends() {
    let friends = setting("KEFU_BENCH_FRIENDS", 500);
    let messages = setting("KEFU_BENCH_MESSAGES", 20_000);
    let rounds = setting("KEFU_BENCH_ROUNDS", 30) as usize;
    let server = Server::start_seeded_friends(ME, friends, messages);
    let url = server.named_friends_url(ME, Some("Me"), "lang=en");
    let port = server.port;
    let friend_ws = move |uid: i64| {
        format!("ws://127.0.0.1:{port}/webSocket/{uid}?token={}", kefu_testkit::app_token(uid, None))
    };
    let count = friends as usize;
    with_sessions(&[("en-US", (390, 844))], move |browsers| async move {
        let me = &browsers[0];
        for source in [scripts::STAMP_FRAMES.to_owned(), scripts::stamp_friends_listed(count)] {
            me.issue_cmd(Cdp {
                cmd: "Page.addScriptToEvaluateOnNewDocument",
                params: serde_json::json!({ "source": source }),
            })
            .await
            .expect("inject a stamp");
        }
        me.goto(&url).await.expect("open the page");
        // Measured on a reload (the wasm cached, as for a returning user).
        let mut list = vec![];
        for _ in 0..rounds.min(10) {
            me.refresh().await.expect("reload");
            let listed = eventually("every friend listed", Duration::from_secs(60), || async {
                let listed = run(me, scripts::FRIENDS_LISTED, vec![]).await;
                (!listed.is_null()).then_some(listed)
            })
            .await;
            list.push(listed);
        }
        println!("{friends} friends, {messages} peer messages seeded; Chromium headless, 390x844");
        let field = |name: &str| list.iter().map(|l| l[name].as_f64().expect("stamp")).collect::<Vec<_>>();
        let (open, dom, layout) = (field("open"), field("dom"), field("layout"));
        summary("list: navigation -> socket open", open.clone());
        summary(
            "list: socket open -> every friend in DOM",
            dom.iter().zip(&open).map(|(d, o)| d - o).collect(),
        );
        summary("list: socket open -> laid out", layout.iter().zip(&open).map(|(l, o)| l - o).collect());
        summary("list: navigation -> laid out", layout);

        run(me, scripts::WATCH, vec![]).await;
        let mut idle = vec![];
        for _ in 0..rounds {
            idle.push(
                me.execute_async(scripts::IDLE_FRAME, vec![]).await.expect("idle").as_f64().expect("ms"),
            );
        }
        summary("baseline: nothing to do -> next frame painted", idle);

        // Opening conversations spread over the list, each for the first time, and back.
        let (mut open, mut back) = (Stages::default(), Stages::default());
        for round in 0..rounds {
            let index = (round * count / rounds + 3) % count;
            let result = me.execute_async(scripts::SWITCH_TO_ROW, vec![index.into()]).await.expect("open");
            open.push(&result, "start");
            let result = me.execute_async(scripts::BACK_TO_LIST, vec![count.into()]).await.expect("back");
            back.push(&result, "start");
        }
        open.print("open: click (latest message)", true);
        back.print("back: click (every friend)", false);

        // New messages from friends: the list, then an open conversation.
        let mut sockets = vec![];
        for uid in (ME + 1..).take(4) {
            let mut socket = ws::connect_v2(&friend_ws(uid)).await;
            let replay = ws::resume(&mut socket, vec![]).await;
            let conversation = replay
                .iter()
                .find_map(|frame| match frame {
                    ServerMessage::Friends(list) => {
                        list.friends.iter().find(|f| f.person.uid.get() == ME).map(|f| f.conversation)
                    }
                    _ => None,
                })
                .expect("the friends list names the conversation with Me");
            sockets.push((uid, conversation, socket));
        }
        for (n, (label, watch)) in
            [("new message, friends list", "ul.friend-list"), ("new message, open conv.", "[role=log]")]
                .into_iter()
                .enumerate()
        {
            if watch == "[role=log]" {
                let row = format!("button.conversation-item[data-friend='{}']", sockets[0].0);
                run(me, &format!("document.querySelector(\"{row}\").click();"), vec![]).await;
            }
            let mut arrival = Stages::default();
            for round in 0..rounds {
                let text = format!("bench {label} {round}");
                let which = if watch == "[role=log]" { 0 } else { round % sockets.len() };
                let (_, conversation, socket) = &mut sockets[which];
                run(me, scripts::ARM_WATCH, vec![text.clone().into(), watch.into()]).await;
                let send = ClientMessage::Send {
                    id: format!("bench-{n}-{round}"),
                    conversation: Some(*conversation),
                    text: text.clone(),
                };
                ws::send(socket, &send).await;
                let result = me.execute_async(scripts::WATCH_RESULT, vec![]).await.expect("result");
                arrival.push(&result, "frame");
            }
            arrival.print(&format!("{label}: frame"), true);
        }
    })
    .await;
}
