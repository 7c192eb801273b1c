//! End to end: the real reference server and real headless Chromium through WebDriver.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use support::page::{self, LOAD};
use support::{eventually, with_browsers, with_sessions, Server};

/// Opens the agent console and the conversation of the user whose message arrived.
/// The list re-renders a row whenever its preview or presence changes, so a found row may go
/// stale before the click: find and click again until the row shows as the open one.
async fn agent_opens_conversation(agent: &Client, uid: i64) {
    let selector = format!("button.conversation-item[data-uid='{uid}']");
    let opened = format!("{selector}[aria-current='true']");
    eventually(&format!("conversation {uid} opened"), LOAD, || async {
        if agent.find(Locator::Css(&opened)).await.is_ok() {
            return Some(());
        }
        if let Ok(row) = agent.find(Locator::Css(&selector)).await {
            let _ = row.click().await;
        }
        None
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_and_agent_exchange_messages_both_ways() {
    let server = Server::start();
    let (user_url, agent_url) = (server.user_url(5, ""), server.url("/agent"));
    with_browsers(2, move |browsers| async move {
        let (user, agent) = (&browsers[0], &browsers[1]);
        page::open_console(agent, &agent_url).await;
        user.goto(&user_url).await.expect("open user page");
        page::wait_status(agent, "online", LOAD).await;
        page::wait_status(user, "online", LOAD).await;

        page::type_and_send(user, "你好，我的订单没到").await;
        page::wait_message(user, "me", "你好，我的订单没到", "sent").await;
        assert_eq!(page::input_value(user).await, "", "input clears after send");

        // The console lists the user with one unread message.
        let unread = agent
            .wait()
            .at_most(LOAD)
            .for_element(Locator::Css("button.conversation-item[data-uid='5'] .unread"))
            .await
            .expect("unread badge");
        assert_eq!(unread.text().await.expect("badge text"), "1");
        agent_opens_conversation(agent, 5).await;
        page::wait_message(agent, "user", "你好，我的订单没到", "sent").await;
        let title = agent.title().await.expect("title");
        assert!(!title.starts_with('('), "no unread left in the title: {title}");

        page::type_and_send(agent, "您好，我来查一下").await;
        page::wait_message(agent, "me", "您好，我来查一下", "sent").await;
        page::wait_message(user, "agent", "您好，我来查一下", "sent").await;

        // Markup is shown as text, never interpreted.
        let markup = "<script>window.__pwned = 1</script><b>bold</b><img src=x onerror=\"window.__pwned=2\">";
        page::type_and_send(user, markup).await;
        page::wait_message(user, "me", markup, "sent").await;
        page::wait_message(agent, "user", markup, "sent").await;
        for client in [user, agent] {
            let injected = client
                .execute(
                    "return [window.__pwned === undefined, \
                     document.querySelectorAll('[role=log] b, [role=log] img:not(.avatar), [role=log] script').length];",
                    vec![],
                )
                .await
                .expect("inspect DOM");
            assert_eq!(injected, serde_json::json!([true, 0]), "markup was not interpreted");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_tabs_of_the_same_visitor_both_keep_working_and_reload_keeps_the_identity() {
    let server = Server::start();
    let url = server.url("/");
    with_browsers(1, move |browsers| async move {
        let browser = &browsers[0];
        browser.goto(&url).await.expect("open tab one");
        page::wait_status(browser, "online", LOAD).await;
        let tab_one = browser.window().await.expect("tab one handle");
        let tab_two = browser.new_window(true).await.expect("open tab two").handle;
        browser.switch_to_window(tab_two.clone()).await.expect("switch");
        browser.goto(&url).await.expect("load tab two");
        page::wait_status(browser, "online", LOAD).await;

        page::type_and_send(browser, "sent from tab two").await;
        page::wait_message(browser, "me", "sent from tab two", "sent").await;
        browser.switch_to_window(tab_one.clone()).await.expect("switch back");
        // Tab one is the same visitor (same guest id from storage), so it sees the message
        // as its own, and its connection was not broken by tab two's.
        page::wait_message(browser, "me", "sent from tab two", "sent").await;
        page::wait_status(browser, "online", LOAD).await;
        page::type_and_send(browser, "sent from tab one").await;
        page::wait_message(browser, "me", "sent from tab one", "sent").await;

        browser.refresh().await.expect("reload tab one");
        page::wait_status(browser, "online", LOAD).await;
        page::type_and_send(browser, "after reload").await;
        page::wait_message(browser, "me", "after reload", "sent").await;
        browser.switch_to_window(tab_two).await.expect("switch to tab two");
        page::wait_message(browser, "me", "sent from tab one", "sent").await;
        page::wait_message(browser, "me", "after reload", "sent").await;
        // The identity is the server's: a guest id with the token that proves it.
        let kept = page::stored_guest(browser).await;
        assert!(kept["uid"].as_i64().is_some_and(|uid| uid >= 1_000_000_000_000), "{kept}");
        assert_eq!(kept["token"].as_str().map(|t| t.split('.').count()), Some(3), "a JWT: {kept}");
    })
    .await;
}

/// Time from `since` until the page shows `state`, polled through WebDriver.
async fn time_until(client: &Client, state: &str, since: Instant, timeout: Duration) -> Duration {
    page::wait_status(client, state, timeout).await;
    since.elapsed()
}

/// Signals and restarts the server on request from inside a browser scenario.
#[derive(Clone)]
struct Control(tokio::sync::mpsc::UnboundedSender<(&'static str, tokio::sync::oneshot::Sender<Instant>)>);

impl Control {
    /// Carries out `what` (term, kill, stop, cont, start); returns when it was asked.
    async fn ask(&self, what: &'static str) -> Instant {
        let (done, at) = tokio::sync::oneshot::channel();
        self.0.send((what, done)).expect("server control alive");
        at.await.expect("server control answered")
    }
}

/// Hands the server to a task that obeys [`Control`]; abort the task to stop it (the server is
/// then dropped, which kills it).
fn server_control(mut server: Server) -> (tokio::task::JoinHandle<()>, Control) {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_follows_the_server_stop_kill_freeze_and_return() {
    let server = Server::start();
    let url = server.user_url(21, "");
    let (control_task, control) = server_control(server);
    let ask = move |what: &'static str| {
        let control = control.clone();
        async move { control.ask(what).await }
    };
    with_browsers(1, move |browsers| async move {
        let user = &browsers[0];
        user.goto(&url).await.expect("open user page");
        page::wait_status(user, "online", LOAD).await;
        let timing = kefu::connection::Timing::default();
        let mut figures = vec![];

        let at = ask("term").await;
        let graceful = time_until(user, "offline", at, Duration::from_secs(1)).await;
        figures.push(("graceful stop (SIGTERM) -> offline", graceful));
        let label = user
            .find(Locator::Css("[role=status] .status-label"))
            .await
            .expect("label")
            .text()
            .await
            .expect("label text");
        assert!(!label.is_empty(), "the state is said in words, not colour alone");
        let at = ask("start").await;
        figures.push((
            "restarted after SIGTERM -> online",
            time_until(user, "online", at, Duration::from_secs(10)).await,
        ));

        let at = ask("kill").await;
        figures.push((
            "killed (SIGKILL) -> offline",
            time_until(user, "offline", at, Duration::from_secs(1)).await,
        ));
        let at = ask("start").await;
        figures.push((
            "restarted after SIGKILL -> online",
            time_until(user, "online", at, Duration::from_secs(10)).await,
        ));

        let limit = Duration::from_millis(timing.heartbeat_ms + timing.heartbeat_timeout_ms + 500);
        let at = ask("stop").await;
        figures.push(("frozen (SIGSTOP) -> offline", time_until(user, "offline", at, limit).await));
        let at = ask("cont").await;
        figures.push((
            "thawed (SIGCONT) -> online",
            time_until(user, "online", at, Duration::from_secs(10)).await,
        ));

        for (what, took) in &figures {
            println!("STATUS LATENCY {what}: {} ms", took.as_millis());
        }
    })
    .await;
    control_task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v0_backend_unconfirmed_message_shows_failed_and_retry_delivers_it() {
    // A backend that speaks only the original protocol, as the original does.
    let server = Server::start_with(0, &["--v0-only", "--insecure-no-auth"]);
    let url = server.user_url(31, "");
    let agent_url = server.url("/agent");
    let pid = server.pid();
    with_browsers(2, move |browsers| async move {
        let (user, agent) = (&browsers[0], &browsers[1]);
        page::open_console(agent, &agent_url).await;
        user.goto(&url).await.expect("open user page");
        page::wait_status(user, "online", LOAD).await;
        page::wait_status(agent, "online", LOAD).await;
        // v0 has no addressee for replies, and the console says so.
        agent.wait().at_most(LOAD).for_element(Locator::Css(".banner")).await.expect("broadcast warning");
        // Freeze the server: the link is half-open, sending reports no error.
        unsafe { libc::kill(pid, libc::SIGSTOP) };
        page::type_and_send(user, "sent into the void").await;
        page::wait_message(user, "me", "sent into the void", "sending").await;
        // The watchdog notices, and the message is marked failed, not silently lost.
        page::wait_message(user, "me", "sent into the void", "failed").await;
        unsafe { libc::kill(pid, libc::SIGCONT) };
        page::wait_status(user, "online", LOAD).await;
        // Once thawed, the server may still deliver the frame it had buffered, and its late
        // echo confirms the message; otherwise the person retries.
        if let Ok(retry) = user.find(Locator::Css("[data-delivery=failed] button.retry")).await {
            let _ = retry.click().await;
        }
        page::wait_message(user, "me", "sent into the void", "sent").await;
        agent_opens_conversation(agent, 31).await;
        page::wait_message(agent, "user", "sent into the void", "sent").await;
    })
    .await;
    server.signal(libc::SIGCONT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_message_sent_into_a_frozen_server_arrives_once_after_it_thaws() {
    let server = Server::start();
    let url = server.user_url(32, "");
    let agent_url = server.url("/agent");
    let pid = server.pid();
    with_browsers(2, move |browsers| async move {
        let (user, agent) = (&browsers[0], &browsers[1]);
        page::open_console(agent, &agent_url).await;
        user.goto(&url).await.expect("open user page");
        page::wait_status(user, "online", LOAD).await;
        page::type_and_send(user, "before").await;
        page::wait_message(user, "me", "before", "sent").await;
        unsafe { libc::kill(pid, libc::SIGSTOP) };
        page::type_and_send(user, "sent into the void").await;
        // The watchdog finds the dead link; the message stays queued, not failed.
        page::wait_status(user, "offline", LOAD).await;
        page::wait_message(user, "me", "sent into the void", "sending").await;
        unsafe { libc::kill(pid, libc::SIGCONT) };
        // The frozen server may deliver its buffered copy, and the page re-sends its own:
        // either way it is stored and shown once.
        page::wait_message(user, "me", "sent into the void", "sent").await;
        agent_opens_conversation(agent, 32).await;
        page::wait_message(agent, "user", "sent into the void", "sent").await;
        for client in [user, agent] {
            let texts: Vec<String> =
                page::messages(client).await.into_iter().map(|(_, text, _)| text).collect();
            assert_eq!(texts, vec!["before", "sent into the void"]);
        }
    })
    .await;
    server.signal(libc::SIGCONT);
}

/// Reads the failure reason shown under a failed message.
async fn failure_reason(client: &Client, text: &str) -> Option<String> {
    let value = client
        .execute(
            "const li = [...document.querySelectorAll('[role=log] > li[data-delivery=failed]')]\
             .find(li => li.querySelector('.bubble').textContent === arguments[0]); \
             const r = li && li.querySelector('.msg-reason'); return r ? r.textContent : null;",
            vec![serde_json::json!(text)],
        )
        .await
        .expect("read reason");
    value.as_str().map(str::to_owned)
}

async fn agent_notices(agent: &Client) -> Vec<String> {
    let notices = agent
        .execute(
            "return [...document.querySelectorAll('.notices [data-from=system]')].map(n => n.textContent);",
            vec![],
        )
        .await
        .expect("read notices");
    serde_json::from_value(notices).expect("strings")
}

/// Empty messages are refused in the page; a message the server refuses (over a small
/// limit) ends *failed* on both pages, with the server's reason (v1) or notice (v0).
async fn refusals(v1: bool) {
    let mut args = vec!["--max-text", "10"];
    if !v1 {
        args.extend(["--v0-only", "--insecure-no-auth"]);
    }
    let server = Server::start_with(0, &args);
    let (url, agent_url) = (server.user_url(41, ""), server.url("/agent"));
    with_browsers(2, move |browsers| async move {
        let (user, agent) = (&browsers[0], &browsers[1]);
        page::open_console(agent, &agent_url).await;
        user.goto(&url).await.expect("open user page");
        page::wait_status(user, "online", LOAD).await;
        page::wait_status(agent, "online", LOAD).await;

        page::click_send(user).await;
        let alert = eventually("empty-message alert", LOAD, || async { page::alert_text(user).await }).await;
        assert_eq!(alert, "Message must not be empty!");
        assert!(page::messages(user).await.is_empty());

        let long = "this text is over ten units";
        page::type_and_send(user, long).await;
        // The refused message is not left "sending": it failed, and says why.
        page::wait_message(user, "me", long, "failed").await;
        if v1 {
            let reason =
                eventually("reason shown", LOAD, || async { failure_reason(user, long).await }).await;
            assert!(reason.contains("too long"), "{reason}");
        } else {
            let notices = page::messages(user).await;
            assert!(
                notices.iter().any(|(from, text, _)| from == "system" && text.contains("too long")),
                "{notices:?}"
            );
        }

        page::type_and_send(user, "hi").await;
        page::wait_message(user, "me", "hi", "sent").await;
        agent_opens_conversation(agent, 41).await;
        page::wait_message(agent, "user", "hi", "sent").await;
        let reply = "a reply over ten units";
        page::type_and_send(agent, reply).await;
        page::wait_message(agent, "me", reply, "failed").await;
        if v1 {
            let reason =
                eventually("reason shown", LOAD, || async { failure_reason(agent, reply).await }).await;
            assert!(reason.contains("too long"), "{reason}");
        } else {
            let notices = agent_notices(agent).await;
            assert!(notices.iter().any(|n| n.contains("too long")), "{notices:?}");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_v1() {
    refusals(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_v0_backend() {
    refusals(false).await;
}

/// Two servers: one serves the pages (still there when the chat server is down, as a CDN
/// would be), the other carries the chat, under [`Control`]. Returns the pages server, the
/// user page URL for `uid`, the agent console URL, and the control of the chat server.
fn pages_apart_from_chat(uid: i64) -> (Server, String, String, (tokio::task::JoinHandle<()>, Control)) {
    let pages = Server::start();
    // The pages come from another origin, which the chat server must allow.
    let chat = Server::start_with(0, &["--allow-origin", &pages.url("")]);
    let backend = format!("server=ws://127.0.0.1:{}/webSocket/", chat.port);
    let url = pages.url(&format!("/?uid={uid}&token={}&{backend}", support::app_token(uid, None)));
    let agent_url = pages.url(&format!("/agent?{backend}"));
    (pages, url, agent_url, server_control(chat))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_written_offline_survive_a_reload_and_are_sent_once_when_back() {
    let (pages, url, agent_url, (control_task, control)) = pages_apart_from_chat(51);
    with_browsers(2, move |browsers| async move {
        let (user, agent) = (&browsers[0], &browsers[1]);
        user.goto(&url).await.expect("open user page");
        page::wait_status(user, "online", LOAD).await;
        page::type_and_send(user, "first").await;
        page::wait_message(user, "me", "first", "sent").await;
        control.ask("kill").await;
        page::wait_status(user, "offline", LOAD).await;
        // The composer stays usable; the status says messages are queued.
        page::type_and_send(user, "written offline 1").await;
        page::type_and_send(user, "written offline 2").await;
        page::wait_message(user, "me", "written offline 2", "sending").await;
        let label =
            user.find(Locator::Css("[role=status]")).await.expect("status").text().await.expect("text");
        assert!(label.contains("2 queued"), "{label}");
        user.refresh().await.expect("reload");
        page::wait_message(user, "me", "written offline 1", "sending").await;
        page::wait_message(user, "me", "written offline 2", "sending").await;
        control.ask("start").await;
        page::wait_message(user, "me", "written offline 2", "sent").await;
        page::wait_message(user, "me", "written offline 1", "sent").await;
        page::open_console(agent, &agent_url).await;
        agent_opens_conversation(agent, 51).await;
        page::wait_message(agent, "user", "written offline 2", "sent").await;
        let expected = vec!["first", "written offline 1", "written offline 2"];
        for client in [user, agent] {
            let texts: Vec<String> =
                page::messages(client).await.into_iter().map(|(_, text, _)| text).collect();
            assert_eq!(texts, expected);
        }
    })
    .await;
    control_task.abort();
    drop(pages);
}

/// The fault run: user and agent keep writing while the chat server is killed (SIGKILL) and
/// restarted five times, frozen once, and the user's tab is reloaded with messages still in
/// its outbox. Afterwards both sides show every message exactly once, in the same order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_run_every_message_exactly_once_in_the_same_order_on_both_sides() {
    let (pages, url, agent_url, (control_task, control)) = pages_apart_from_chat(61);
    with_browsers(2, move |browsers| async move {
        let (user, agent) = (&browsers[0], &browsers[1]);
        user.goto(&url).await.expect("open user page");
        page::open_console(agent, &agent_url).await;
        page::wait_status(user, "online", LOAD).await;
        page::wait_status(agent, "online", LOAD).await;
        let mut expected: Vec<String> = vec![];
        let mut write = |client: &Client, text: String| {
            expected.push(text.clone());
            let client = client.clone();
            async move { page::type_and_send(&client, &text).await }
        };
        write(user, "u0".into()).await;
        agent_opens_conversation(agent, 61).await;
        let (mut kills, mut freezes, mut reloads) = (0, 0, 0);
        for round in 1..=5 {
            write(user, format!("u{round} before")).await;
            write(agent, format!("a{round} before")).await;
            control.ask("kill").await;
            kills += 1;
            write(user, format!("u{round} while down")).await;
            write(agent, format!("a{round} while down")).await;
            control.ask("start").await;
        }
        page::wait_status(user, "online", LOAD).await;
        page::wait_status(agent, "online", LOAD).await;
        control.ask("stop").await;
        freezes += 1;
        write(user, "u frozen".into()).await;
        write(agent, "a frozen".into()).await;
        // Both pages give up on the frozen link; the server still holds the frames in its
        // socket buffers and stores them when thawed, while the pages send them again.
        page::wait_status(user, "offline", LOAD).await;
        page::wait_status(agent, "offline", LOAD).await;
        control.ask("cont").await;
        control.ask("kill").await;
        kills += 1;
        write(user, "u before reload 1".into()).await;
        write(user, "u before reload 2".into()).await;
        user.refresh().await.expect("reload user tab");
        reloads += 1;
        page::wait_message(user, "me", "u before reload 2", "sending").await;
        control.ask("start").await;
        write(agent, "a last".into()).await;

        // Everything settles: nothing sending or failed, every message shown.
        let settled = |client: Client, expected: Vec<String>| async move {
            let deadline = Instant::now() + Duration::from_secs(45);
            loop {
                let shown = page::messages(&client).await;
                let done = shown.iter().all(|(_, _, delivery)| delivery == "sent")
                    && expected.iter().all(|text| shown.iter().any(|(_, t, _)| t == text));
                if done {
                    return shown.into_iter().map(|(_, text, _)| text).collect::<Vec<String>>();
                }
                let status = page::status(&client).await;
                assert!(Instant::now() < deadline, "not settled (status {status}): {shown:?}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        let on_user = settled(user.clone(), expected.clone()).await;
        let on_agent = settled(agent.clone(), expected.clone()).await;
        for (side, shown) in [("user", &on_user), ("agent", &on_agent)] {
            for text in &expected {
                let count = shown.iter().filter(|t| *t == text).count();
                assert_eq!(count, 1, "{side} shows {text:?} {count} times: {shown:?}");
            }
            assert_eq!(shown.len(), expected.len(), "{side}: {shown:?}");
        }
        assert_eq!(on_user, on_agent, "same order on both sides");
        println!(
            "FAULT RUN: {} messages, {kills} kills, {freezes} freeze, {reloads} reload: all delivered once, same order",
            expected.len()
        );
    })
    .await;
    control_task.abort();
    drop(pages);
}

/// Writes `count` messages into user `uid`'s conversation over a plain v1 WebSocket.
async fn seed_conversation(server: &Server, uid: i64, count: usize) {
    use futures_util::{SinkExt, StreamExt};
    use kefu_protocol::v1::{ClientMessage, ServerMessage};
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = server.ws_url(&uid.to_string()).into_client_request().expect("request");
    request.headers_mut().insert("Sec-WebSocket-Protocol", "kefu.v1".parse().expect("header"));
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.expect("connect");
    for n in 1..=count {
        let frame =
            ClientMessage::Send { id: format!("seed-{n}"), conversation: None, text: format!("seed {n}") };
        socket.send(tokio_tungstenite::tungstenite::Message::text(frame.encode())).await.expect("send");
    }
    let mut acked = 0;
    while acked < count {
        let frame = socket.next().await.expect("open").expect("frame");
        if let Ok(ServerMessage::Ack { .. }) = ServerMessage::decode(frame.to_text().unwrap_or_default()) {
            acked += 1;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrolling_up_loads_older_messages_in_order() {
    let server = Server::start_with(0, &["--max-frames-per-second", "1000"]);
    seed_conversation(&server, 71, 120).await;
    let url = server.user_url(71, "");
    with_browsers(1, move |browsers| async move {
        let user = &browsers[0];
        user.goto(&url).await.expect("open user page");
        page::wait_message(user, "me", "seed 120", "sent").await;
        // The latest page only, scrolled to the newest.
        let first = page::messages(user).await.len();
        assert_eq!(first, 50);
        let expected: Vec<String> = (1..=120).map(|n| format!("seed {n}")).collect();
        let all = eventually("every older page loaded by scrolling up", LOAD, || async {
            user.execute(
                "const log = document.querySelector('[role=log]'); log.scrollTop = 0; \
                 log.dispatchEvent(new Event('scroll'));",
                vec![],
            )
            .await
            .expect("scroll up");
            let texts: Vec<String> =
                page::messages(user).await.into_iter().map(|(_, text, _)| text).collect();
            (texts.len() == 120).then_some(texts)
        })
        .await;
        assert_eq!(all, expected, "every message once, in order");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_away_notice_and_filter() {
    let server = Server::start();
    // The second user comes from the embedding app, signed in under their own name.
    let second_url = server.named_user_url(82, Some("Zhang Wei"), "");
    let (first_url, agent_url) = (server.user_url(81, ""), server.url("/agent"));
    with_browsers(3, move |browsers| async move {
        let (user, other, agent) = (&browsers[0], &browsers[1], &browsers[2]);
        user.goto(&first_url).await.expect("open user page");
        page::wait_status(user, "online", LOAD).await;
        // No agent yet: the user is told, and can still write.
        user.wait().at_most(LOAD).for_element(Locator::Css("[data-away=true]")).await.expect("away notice");
        page::type_and_send(user, "anyone there?").await;
        page::wait_message(user, "me", "anyone there?", "sent").await;

        page::open_console(agent, &agent_url).await;
        page::wait_status(agent, "online", LOAD).await;
        eventually("away notice gone once an agent is there", LOAD, || async {
            user.find(Locator::Css("[data-away=true]")).await.is_err().then_some(())
        })
        .await;
        // The console lists users live: one who wrote, and one who only opened the page.
        let presence = |uid: i64, online: bool| {
            let agent = agent.clone();
            async move {
                let want = serde_json::json!([uid.to_string(), online.to_string()]);
                eventually(&format!("user {uid} shown online={online}"), LOAD, || async {
                    let rows = agent
                        .execute(
                            "return [...document.querySelectorAll('button.conversation-item')]\
                             .map(b => [b.dataset.uid, b.dataset.online]);",
                            vec![],
                        )
                        .await
                        .expect("rows");
                    rows.as_array().is_some_and(|rows| rows.contains(&want)).then_some(())
                })
                .await
            }
        };
        presence(81, true).await;
        other.goto(&second_url).await.expect("open second user page");
        presence(82, true).await;
        // The second user closes the browser.
        other.clone().close().await.expect("second user leaves");
        presence(82, false).await;

        let filter = agent.find(Locator::Css("input.conversation-filter")).await.expect("filter");
        filter.send_keys("zhang").await.expect("type filter");
        eventually("only the matching user listed", LOAD, || async {
            let uids = agent
                .execute(
                    "return [...document.querySelectorAll('button.conversation-item')].map(b => b.dataset.uid);",
                    vec![],
                )
                .await
                .expect("list");
            (uids == serde_json::json!(["82"])).then_some(())
        })
        .await;
        let name = agent.find(Locator::Css("button.conversation-item[data-uid='82'] .conversation-name")).await;
        assert_eq!(name.expect("row").text().await.expect("name").trim(), "Zhang Wei");
    })
    .await;
}

/// `data-*` counter of the console page.
async fn console_counter(agent: &Client, name: &str) -> String {
    let value = agent
        .execute(&format!("return document.querySelector('.agent-page').dataset.{name};"), vec![])
        .await
        .expect("read counter");
    value.as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_user_messages_alert_with_sound_replayed_ones_do_not() {
    let server = Server::start();
    let (user_url, agent_url) = (server.user_url(97, ""), server.url("/agent"));
    with_browsers(2, move |browsers| async move {
        let (user, agent) = (&browsers[0], &browsers[1]);
        user.goto(&user_url).await.expect("open user page");
        page::type_and_send(user, "written before any agent").await;
        page::wait_message(user, "me", "written before any agent", "sent").await;
        page::open_console(agent, &agent_url).await;
        page::wait_status(agent, "online", LOAD).await;
        agent_opens_conversation(agent, 97).await;
        page::wait_message(agent, "user", "written before any agent", "sent").await;
        assert_eq!(console_counter(agent, "alerts").await, "0", "the replay does not alert");

        let sound = agent.find(Locator::Css("button.sound-switch")).await.expect("sound switch");
        assert_eq!(sound.attr("aria-pressed").await.expect("attr").as_deref(), Some("false"));
        sound.click().await.expect("switch sound on");
        assert_eq!(sound.attr("aria-pressed").await.expect("attr").as_deref(), Some("true"));
        page::type_and_send(user, "ring ring").await;
        page::wait_message(agent, "user", "ring ring", "sent").await;
        eventually("one alert with its tone", LOAD, || async {
            let counts = (console_counter(agent, "alerts").await, console_counter(agent, "sounds").await);
            (counts == ("1".to_owned(), "1".to_owned())).then_some(())
        })
        .await;
        // The agent's own reply is no news; the switch is remembered across a reload.
        page::type_and_send(agent, "on my way").await;
        page::wait_message(agent, "me", "on my way", "sent").await;
        page::wait_message(user, "agent", "on my way", "sent").await;
        assert_eq!(console_counter(agent, "alerts").await, "1");
        agent.refresh().await.expect("reload");
        page::wait_status(agent, "online", LOAD).await;
        let sound = agent.find(Locator::Css("button.sound-switch")).await.expect("sound switch");
        assert_eq!(sound.attr("aria-pressed").await.expect("attr").as_deref(), Some("true"));
        // Headless Chromium denies notifications: the switch says so instead of doing nothing.
        let desktop = agent.find(Locator::Css("button.desktop-switch")).await.expect("desktop switch");
        desktop.click().await.expect("ask for desktop alerts");
        eventually("the refusal explained", LOAD, || async {
            agent_notices(agent)
                .await
                .iter()
                .any(|n| n.contains("does not allow notifications"))
                .then_some(())
        })
        .await;
        assert_eq!(desktop.attr("aria-pressed").await.expect("attr").as_deref(), Some("false"));
    })
    .await;
}

/// Unread count of a row, or 0 without a badge; and whether it shows online.
async fn row_state(agent: &Client, uid: i64) -> Option<(u64, bool)> {
    let script = format!(
        "const b = document.querySelector(\"button.conversation-item[data-uid='{uid}']\"); \
         if (!b) return null; const u = b.querySelector('.unread'); \
         return [u ? Number(u.textContent) : 0, b.dataset.online === 'true'];"
    );
    let value = agent.execute(&script, vec![]).await.expect("row");
    serde_json::from_value::<Option<(u64, bool)>>(value).expect("row state")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_users_see_only_their_own_conversation_and_replies_reach_the_chosen_one() {
    let server = Server::start();
    let named = |uid: i64, name: &str| server.named_user_url(uid, Some(name), "");
    let (alice_url, bob_url, agent_url) = (named(11, "Alice"), named(12, "Bob"), server.url("/agent"));
    with_browsers(3, move |browsers| async move {
        let (alice, bob, agent) = (&browsers[0], &browsers[1], &browsers[2]);
        page::open_console(agent, &agent_url).await;
        alice.goto(&alice_url).await.expect("alice");
        bob.goto(&bob_url).await.expect("bob");
        for client in [agent, alice, bob] {
            page::wait_status(client, "online", LOAD).await;
        }
        page::type_and_send(alice, "A1 order missing").await;
        page::type_and_send(alice, "A2 still waiting").await;
        page::type_and_send(bob, "B1 invoice please").await;
        page::wait_message(alice, "me", "A2 still waiting", "sent").await;
        page::wait_message(bob, "me", "B1 invoice please", "sent").await;

        // Both listed, online, with their own unread counts.
        eventually("rows 11 (2 unread) and 12 (1 unread), online", LOAD, || async {
            (row_state(agent, 11).await == Some((2, true)) && row_state(agent, 12).await == Some((1, true)))
                .then_some(())
        })
        .await;
        agent_opens_conversation(agent, 12).await;
        page::type_and_send(agent, "for Bob only").await;
        page::wait_message(bob, "agent", "for Bob only", "sent").await;
        eventually("Bob's read, Alice's still unread", LOAD, || async {
            (row_state(agent, 12).await == Some((0, true)) && row_state(agent, 11).await == Some((2, true)))
                .then_some(())
        })
        .await;
        agent_opens_conversation(agent, 11).await;
        page::type_and_send(agent, "for Alice").await;
        // The server handles the agent's frames in order: by the time Alice has her reply,
        // Bob's would have reached her too, had it been sent to her.
        page::wait_message(alice, "agent", "for Alice", "sent").await;
        let texts = |client: &Client| {
            let client = client.clone();
            async move { page::messages(&client).await.into_iter().map(|(_, text, _)| text).collect::<Vec<_>>() }
        };
        let seen_by_alice = texts(alice).await;
        assert!(!seen_by_alice.iter().any(|t| t.contains("Bob") || t.starts_with("B1")), "{seen_by_alice:?}");
        // Likewise Bob: his own message's acknowledgement comes after anything sent to him before.
        page::type_and_send(bob, "B2 thanks").await;
        page::wait_message(bob, "me", "B2 thanks", "sent").await;
        let seen_by_bob = texts(bob).await;
        assert!(!seen_by_bob.iter().any(|t| t.starts_with("A1") || t.starts_with("A2") || t == "for Alice"), "{seen_by_bob:?}");
        assert_eq!(seen_by_alice, vec!["A1 order missing", "A2 still waiting", "for Alice"]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_identity_is_explained_and_a_stale_guest_is_replaced() {
    let server = Server::start();
    let expired = support::app_token_signed(support::APP_SECRET, 33, None, -3600);
    let app_url = server.url(&format!("/?uid=33&token={expired}"));
    let guest_url = server.url("/");
    with_browsers(1, move |browsers| async move {
        let user = &browsers[0];
        // The app's token has expired: the page says so and stops retrying.
        user.goto(&app_url).await.expect("open");
        let alert = eventually("refusal shown", LOAD, || async { page::alert_text(user).await }).await;
        assert!(alert.contains("token expired"), "{alert}");
        assert_ne!(page::status(user).await, "online");

        // A kept guest identity the server no longer accepts is replaced by a new one.
        user.goto(&guest_url).await.expect("open as guest");
        page::wait_status(user, "online", LOAD).await;
        let old_uid = page::spoil_guest_token(user).await;
        user.refresh().await.expect("reload");
        let note = eventually("new identity noted", LOAD, || async {
            let found = user
                .execute("const n = document.querySelector('.banner[role=note]'); return n ? n.textContent : null;", vec![])
                .await
                .expect("note");
            found.as_str().map(str::to_owned)
        })
        .await;
        assert!(note.contains("new guest"), "{note}");
        page::wait_status(user, "online", LOAD).await;
        let new_uid = page::stored_guest(user).await["uid"].as_i64().expect("uid");
        assert_ne!(new_uid, old_uid);
        page::type_and_send(user, "hello again").await;
        page::wait_message(user, "me", "hello again", "sent").await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_queued_by_a_replaced_guest_are_sent_as_the_new_one() {
    let pages = Server::start();
    let chat = Server::start_with(0, &["--allow-origin", &pages.url("")]);
    let url = pages.url(&format!("/?server=ws://127.0.0.1:{}/webSocket/", chat.port));
    let (control_task, control) = server_control(chat);
    with_browsers(1, move |browsers| async move {
        let user = &browsers[0];
        user.goto(&url).await.expect("open as guest");
        page::wait_status(user, "online", LOAD).await;
        control.ask("kill").await;
        page::wait_status(user, "offline", LOAD).await;
        page::type_and_send(user, "typed while the server was away").await;
        page::wait_message(user, "me", "typed while the server was away", "sending").await;
        // The server comes back no longer accepting the kept identity (as after its key changed).
        page::spoil_guest_token(user).await;
        user.refresh().await.expect("reload while the server is away");
        page::wait_message(user, "me", "typed while the server was away", "sending").await;
        control.ask("start").await;
        // Refused, replaced by a new guest, and the queued message goes out as that guest.
        page::wait_message(user, "me", "typed while the server was away", "sent").await;
        let renewed = user.find(Locator::Css(".banner[role=note]")).await.expect("renewal noted");
        assert!(renewed.text().await.expect("text").contains("new guest"));
        let stored = user
            .execute(
                "return Object.keys(localStorage).filter(k => k.startsWith('kefu.outbox.')).length;",
                vec![],
            )
            .await
            .expect("outboxes");
        assert!(stored.as_u64().is_some_and(|n| n <= 1), "the old guest's outbox moved: {stored}");
    })
    .await;
    control_task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_accounts_a_visitor_gets_a_made_up_guest_id_and_the_console_needs_no_sign_in() {
    // Like the original backend: no /api, anyone is who they say.
    let server = Server::start_with(0, &["--insecure-no-auth"]);
    let (user_url, agent_url) = (server.url("/"), server.url("/agent"));
    with_browsers(2, move |browsers| async move {
        let (user, agent) = (&browsers[0], &browsers[1]);
        agent.goto(&agent_url).await.expect("open console");
        page::wait_status(agent, "online", LOAD).await;
        assert!(agent.find(Locator::Css("form.sign-in")).await.is_err(), "no sign-in without accounts");
        user.goto(&user_url).await.expect("open user page");
        page::wait_status(user, "online", LOAD).await;
        page::type_and_send(user, "hello from a made-up guest").await;
        page::wait_message(user, "me", "hello from a made-up guest", "sent").await;
        let stored = user
            .execute(
                "return [localStorage.getItem('kefu.guest_uid'), \
                 Object.keys(localStorage).some(k => k.startsWith('kefu.guest.'))];",
                vec![],
            )
            .await
            .expect("storage");
        let made_up = stored[0].as_str().and_then(|uid| uid.parse::<i64>().ok());
        let uid = made_up.filter(|uid| *uid >= 1_000_000_000_000).unwrap_or_else(|| panic!("{stored}"));
        agent_opens_conversation(agent, uid).await;
        page::wait_message(agent, "user", "hello from a made-up guest", "sent").await;
        assert_eq!(stored[1], false, "no server-issued identity: {stored}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desktop_notifications_only_while_the_console_tab_is_hidden() {
    let server = Server::start();
    let (user_url, agent_url) = (server.user_url(98, ""), server.url("/agent?lang=en"));
    let blank = server.url("/api/config");
    let specs = [
        ("en-US", (420, 860), serde_json::json!({})),
        ("en-US", (1100, 700), support::notifications_allowed()),
    ];
    support::with_sessions_and_prefs(&specs, move |browsers| async move {
        let (user, agent) = (&browsers[0], &browsers[1]);
        page::open_console(agent, &agent_url).await;
        user.goto(&user_url).await.expect("open user page");
        page::wait_status(agent, "online", LOAD).await;
        page::wait_status(user, "online", LOAD).await;
        let desktop = agent.find(Locator::Css("button.desktop-switch")).await.expect("desktop switch");
        desktop.click().await.expect("switch desktop alerts on");
        eventually("desktop alerts on (permission granted)", LOAD, || async {
            (desktop.attr("aria-pressed").await.ok().flatten().as_deref() == Some("true")).then_some(())
        })
        .await;

        // Watching the console: the list shows it, no notification.
        page::type_and_send(user, "while you watch").await;
        eventually("alert raised", LOAD, || async {
            (console_counter(agent, "alerts").await == "1").then_some(())
        })
        .await;
        assert_eq!(console_counter(agent, "notified").await, "0");

        // Another tab in front hides the console: the next message notifies.
        let console_tab = agent.window().await.expect("console tab");
        let other_tab = agent.new_window(true).await.expect("new tab").handle;
        agent.switch_to_window(other_tab).await.expect("switch");
        agent.goto(&blank).await.expect("open something else");
        page::type_and_send(user, "while you are away").await;
        // The hidden console's title counts both unread messages once the second has arrived.
        eventually("the hidden console got the message", LOAD, || async {
            support::tab_titles(agent).await.iter().any(|t| t.starts_with("(2)")).then_some(())
        })
        .await;
        agent.switch_to_window(console_tab).await.expect("back to the console");
        assert_eq!(console_counter(agent, "alerts").await, "2");
        assert_eq!(console_counter(agent, "notified").await, "1");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_sign_in_stay_signed_in_across_reloads_and_sign_out() {
    let server = Server::start();
    let url = server.url("/agent");
    with_browsers(1, move |browsers| async move {
        let agent = &browsers[0];
        agent.goto(&url).await.expect("open agent console");
        page::sign_in(agent, support::AGENT, "not the password").await;
        let alert = eventually("sign-in refused", LOAD, || async { page::alert_text(agent).await }).await;
        assert_eq!(alert, "wrong name or password");
        assert!(agent.find(Locator::Css(".agent-page")).await.is_err(), "no console without a session");

        agent.goto(&url).await.expect("reopen");
        page::sign_in(agent, support::AGENT, support::AGENT_PASSWORD).await;
        page::wait_status(agent, "online", LOAD).await;
        agent.refresh().await.expect("reload");
        page::wait_status(agent, "online", LOAD).await;
        assert!(agent.find(Locator::Css("form.sign-in")).await.is_err(), "the session is kept");

        agent.find(Locator::Css("button.sign-out")).await.expect("sign-out").click().await.expect("click");
        let alert = eventually("signed out", LOAD, || async { page::alert_text(agent).await }).await;
        assert_eq!(alert, "Signed out");
        agent.find(Locator::Css("form.sign-in")).await.expect("the sign-in form again");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_whose_account_is_removed_is_sent_back_to_sign_in() {
    let server = Server::start();
    let url = server.url("/agent");
    let database = server.database.clone();
    let (control_task, control) = server_control(server);
    with_browsers(1, move |browsers| async move {
        let agent = &browsers[0];
        page::open_console(agent, &url).await;
        page::wait_status(agent, "online", LOAD).await;
        let (ok, output) = support::server_command(&database, &["agent", "remove", support::AGENT]);
        assert!(ok, "{output}");
        // Its next connection is refused: the console asks to sign in, saying why.
        control.ask("kill").await;
        control.ask("start").await;
        let alert = eventually("sent back to sign in", Duration::from_secs(30), || async {
            page::alert_text(agent).await.filter(|text| text.contains("no longer exists"))
        })
        .await;
        assert_eq!(alert, "this agent account no longer exists");
        agent.find(Locator::Css("form.sign-in")).await.expect("the sign-in form");
    })
    .await;
    control_task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_shows_both_ways_and_clears_when_the_typist_stops_or_leaves() {
    let server = Server::start();
    let (user_url, agent_url) = (server.user_url(91, ""), server.url("/agent"));
    with_browsers(2, move |browsers| async move {
        let (user, agent) = (&browsers[0], &browsers[1]);
        user.goto(&user_url).await.expect("open user page");
        page::open_console(agent, &agent_url).await;
        page::wait_status(user, "online", LOAD).await;
        page::type_and_send(user, "hello").await;
        agent_opens_conversation(agent, 91).await;
        let shown = |client: &Client, css: &'static str| {
            let client = client.clone();
            async move { client.find(Locator::Css(css)).await.is_ok() }
        };
        let clear_within = Duration::from_millis(kefu_protocol::v1::TYPING_SHOWN_MS + 2_000);

        // The agent types without sending: the user sees it, then it clears once they stop.
        let input = agent.find(Locator::Css("input.composer-input")).await.expect("agent input");
        input.send_keys("let me ch").await.expect("type");
        eventually("user sees the agent typing", LOAD, || async {
            shown(user, "[data-typing=agent]").await.then_some(())
        })
        .await;
        eventually("indicator clears after the agent stops", clear_within, || async {
            (!shown(user, "[data-typing=agent]").await).then_some(())
        })
        .await;

        // The user types: the console shows it in the conversation and in the list.
        let input = user.find(Locator::Css("input.composer-input")).await.expect("user input");
        input.send_keys("one more th").await.expect("type");
        eventually("agent sees the user typing", LOAD, || async {
            (shown(agent, ".conversation [data-typing=user]").await
                && shown(agent, "button.conversation-item[data-typing=true]").await)
                .then_some(())
        })
        .await;
        // The user leaves mid-sentence: the indicator does not get stuck.
        user.clone().close().await.expect("user leaves");
        eventually("indicator clears after the user left", clear_within, || async {
            (!shown(agent, "[data-typing=user]").await && !shown(agent, "[data-typing=true]").await)
                .then_some(())
        })
        .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_receipts_both_ways_and_a_second_agent_sees_the_first_ones_reply_and_read() {
    let server = Server::start();
    let (user_url, agent_url) = (server.user_url(95, ""), server.url("/agent"));
    with_browsers(3, move |browsers| async move {
        let (user, agent, colleague) = (&browsers[0], &browsers[1], &browsers[2]);
        page::open_console(agent, &agent_url).await;
        page::open_console(colleague, &agent_url).await;
        user.goto(&user_url).await.expect("open user page");
        page::wait_status(user, "online", LOAD).await;
        page::type_and_send(user, "is my parcel lost?").await;
        page::wait_message(user, "me", "is my parcel lost?", "sent").await;
        let read_mark = |client: &Client, text: &'static str| {
            let client = client.clone();
            async move {
                let marked = client
                    .execute(
                        "return [...document.querySelectorAll('[role=log] > li[data-read=true] .bubble')]\
                         .some(b => b.textContent === arguments[0]);",
                        vec![serde_json::json!(text)],
                    )
                    .await
                    .expect("read marks");
                marked.as_bool().unwrap_or(false)
            }
        };
        assert!(!read_mark(user, "is my parcel lost?").await, "not read before an agent opens it");
        // Both agents see it unread.
        let unread = "button.conversation-item[data-uid='95'] .unread";
        for console in [agent, colleague] {
            console.wait().at_most(LOAD).for_element(Locator::Css(unread)).await.expect("unread badge");
        }
        // The first agent opens it: the user sees "read", the colleague's badge clears.
        agent_opens_conversation(agent, 95).await;
        eventually("user sees the message read", LOAD, || async {
            read_mark(user, "is my parcel lost?").await.then_some(())
        })
        .await;
        eventually("the colleague's unread badge clears", LOAD, || async {
            colleague.find(Locator::Css(unread)).await.is_err().then_some(())
        })
        .await;
        // The reply reaches the colleague too, and is marked read once the user has it in view.
        page::type_and_send(agent, "no, it is on its way").await;
        agent_opens_conversation(colleague, 95).await;
        page::wait_message(colleague, "me", "no, it is on its way", "sent").await;
        page::wait_message(user, "agent", "no, it is on its way", "sent").await;
        for console in [agent, colleague] {
            eventually("agents see their reply read", LOAD, || async {
                read_mark(console, "no, it is on its way").await.then_some(())
            })
            .await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_switch_disconnects_and_reconnects_on_demand() {
    let server = Server::start();
    let url = server.url("/agent");
    with_browsers(1, move |browsers| async move {
        let agent = &browsers[0];
        page::open_console(agent, &url).await;
        page::wait_status(agent, "online", LOAD).await;
        let switch = agent.find(Locator::Css("button[role=switch]")).await.expect("switch");
        assert_eq!(switch.attr("aria-checked").await.expect("attr").as_deref(), Some("true"));
        switch.click().await.expect("disconnect");
        page::wait_status(agent, "offline", Duration::from_secs(2)).await;
        assert_eq!(switch.attr("aria-checked").await.expect("attr").as_deref(), Some("false"));
        // It stays off: no automatic reconnect.
        let off_since = Instant::now();
        while off_since.elapsed() < Duration::from_millis(1_500) {
            assert_eq!(page::status(agent).await, "offline");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        switch.click().await.expect("connect");
        page::wait_status(agent, "online", Duration::from_secs(5)).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_url_parameter_is_reported() {
    let server = Server::start();
    let url = server.url("/?uid=abc");
    with_browsers(1, move |browsers| async move {
        let user = &browsers[0];
        user.goto(&url).await.expect("open");
        let alert = eventually("config error", LOAD, || async { page::alert_text(user).await }).await;
        assert!(alert.contains("uid"), "{alert}");
    })
    .await;
}

/// Not a check run in CI: stages a conversation and saves the README screenshots.
/// `cargo test -p kefu --test e2e readme_screenshots -- --ignored` (after scripts/build.sh).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn readme_screenshots() {
    let server = Server::start();
    // Users of an embedding app, signed in under their names.
    let named = |uid: i64, name: &str| server.named_user_url(uid, Some(name), "lang=zh");
    let (user_url, other_url, agent_url) = (named(5, "王芳"), named(6, "李明"), server.url("/agent?lang=zh"));
    let sessions = [("zh-CN", (390, 720)), ("zh-CN", (390, 720)), ("zh-CN", (1100, 640))];
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/img");
    with_sessions(&sessions, move |browsers| async move {
        let (user, other, agent) = (&browsers[0], &browsers[1], &browsers[2]);
        std::fs::create_dir_all(&dir).expect("docs/img");
        agent.goto(&agent_url).await.expect("agent");
        agent.wait().at_most(LOAD).for_element(Locator::Css("form.sign-in")).await.expect("sign-in form");
        std::fs::write(dir.join("sign-in.png"), agent.screenshot().await.expect("shot")).expect("write");
        page::open_console(agent, &agent_url).await;
        user.goto(&user_url).await.expect("user");
        other.goto(&other_url).await.expect("other user");
        for client in [agent, user, other] {
            page::wait_status(client, "online", LOAD).await;
        }
        page::type_and_send(user, "你好，我的订单三天了还没发货").await;
        page::type_and_send(other, "请问可以开发票吗？").await;
        agent_opens_conversation(agent, 5).await;
        page::type_and_send(agent, "您好！我帮您查一下，请稍等 🙏").await;
        page::wait_message(user, "agent", "您好！我帮您查一下，请稍等 🙏", "sent").await;
        page::type_and_send(user, "好的，谢谢 👍").await;
        page::wait_message(agent, "user", "好的，谢谢 👍", "sent").await;
        std::fs::write(dir.join("user-page.png"), user.screenshot().await.expect("shot")).expect("write");
        std::fs::write(dir.join("agent-console.png"), agent.screenshot().await.expect("shot"))
            .expect("write");
    })
    .await;
}
