//! What the pages do when the server stops, dies, freezes or comes back: the status, the
//! outbox, and the fault run (nothing lost, nothing doubled).

use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use kefu_testkit::browser::with_browsers;
use kefu_testkit::page::{self, LOAD};
use kefu_testkit::server::{Control, Server};
use kefu_testkit::{eventually, fantoccini};

use crate::pages_apart_from_chat;

/// Time from `since` until the page shows `state`, polled through WebDriver.
async fn time_until(client: &Client, state: &str, since: Instant, timeout: Duration) -> Duration {
    page::wait_status(client, state, timeout).await;
    since.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_follows_the_server_stop_kill_freeze_and_return() {
    let server = Server::start();
    let url = server.user_url(21, "");
    let (control_task, control) = Control::take(server);
    let ask = move |what: &'static str| {
        let control = control.clone();
        async move { control.ask(what).await }
    };
    with_browsers(1, move |browsers| async move {
        let user = &browsers[0];
        user.goto(&url).await.expect("open user page");
        page::wait_status(user, "online", LOAD).await;
        let timing = kefu_core::connection::Timing::default();
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
    let server = Server::start_with(&["--v0-only", "--insecure-no-auth"]);
    let url = server.user_url(31, "");
    let agent_url = server.url("/agent");
    let pid = server.pid();
    with_browsers(2, move |browsers| async move {
        let (user, agent) = (&browsers[0], &browsers[1]);
        page::open_user_and_console(user, &url, agent, &agent_url).await;
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
        page::open_conversation(agent, 31).await;
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
        page::open_conversation(agent, 32).await;
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
        page::open_conversation(agent, 51).await;
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

/// The texts `client` shows once nothing is sending or failed and every `expected` text is
/// there (45 s at most).
async fn settled(client: &Client, expected: &[String]) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        let shown = page::messages(client).await;
        let done = shown.iter().all(|(_, _, delivery)| delivery == "sent")
            && expected.iter().all(|text| shown.iter().any(|(_, t, _)| t == text));
        if done {
            return shown.into_iter().map(|(_, text, _)| text).collect();
        }
        let status = page::status(client).await;
        assert!(Instant::now() < deadline, "not settled (status {status}): {shown:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `side` shows each expected text exactly once, and nothing else.
fn each_once(side: &str, shown: &[String], expected: &[String]) {
    for text in expected {
        let count = shown.iter().filter(|t| *t == text).count();
        assert_eq!(count, 1, "{side} shows {text:?} {count} times: {shown:?}");
    }
    assert_eq!(shown.len(), expected.len(), "{side}: {shown:?}");
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
        page::open_conversation(agent, 61).await;
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
        let on_user = settled(user, &expected).await;
        let on_agent = settled(agent, &expected).await;
        each_once("user", &on_user, &expected);
        each_once("agent", &on_agent, &expected);
        assert_eq!(on_user, on_agent, "same order on both sides");
        // Read receipts went through the faults too (stored with the messages, never refused
        // as "database is locked"): each side sees its last message read by the other.
        for (side, client, last) in [("user", user, "u before reload 2"), ("agent", agent, "a last")] {
            eventually(&format!("{side} sees {last:?} read"), LOAD, || async {
                page::read_mark(client, last).await.then_some(())
            })
            .await;
        }
        println!(
            "FAULT RUN: {} messages, {kills} kills, {freezes} freeze, {reloads} reload: all delivered once, same order",
            expected.len()
        );
    })
    .await;
    control_task.abort();
    drop(pages);
}

/// The fault run of a peer conversation: two friends keep writing to each other while the
/// server is killed (SIGKILL) and restarted three times. Afterwards both pages show every
/// message exactly once, in the same order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_fault_run_every_message_exactly_once_in_the_same_order_for_both_friends() {
    let (ann_uid, bob_uid) = (71, 72);
    let server = Server::start();
    let friendship = kefu_testkit::app_friendship_signed(kefu_testkit::APP_SECRET, ann_uid, bob_uid, true);
    let response = kefu_testkit::http()
        .post(&server.url(kefu_protocol::api::APP_FRIENDSHIP_PATH))
        .send(friendship)
        .expect("POST the friendship");
    assert_eq!(response.status(), 200, "the app's backend sets the friendship");
    let ann_url = server.named_friends_url(ann_uid, Some("Ann"), &format!("lang=en&view=chat-{bob_uid}"));
    let bob_url = server.named_friends_url(bob_uid, Some("Bob"), &format!("lang=en&view=chat-{ann_uid}"));
    let (control_task, control) = Control::take(server);
    with_browsers(2, move |browsers| async move {
        let (ann, bob) = (&browsers[0], &browsers[1]);
        for (client, url) in [(ann, &ann_url), (bob, &bob_url)] {
            client.goto(url).await.expect("open the conversation");
            page::wait_status(client, "online", LOAD).await;
            eventually("the composer", LOAD, || async {
                page::shown(client, ".composer-input").await.then_some(())
            })
            .await;
        }
        let mut expected: Vec<String> = vec![];
        let mut write = |client: &Client, text: String| {
            expected.push(text.clone());
            let client = client.clone();
            async move { page::type_and_send(&client, &text).await }
        };
        write(ann, "ann 0".into()).await;
        page::wait_message(bob, "user", "ann 0", "sent").await;
        for round in 1..=3 {
            write(ann, format!("ann {round} before")).await;
            write(bob, format!("bob {round} before")).await;
            control.ask("kill").await;
            write(ann, format!("ann {round} while down")).await;
            write(bob, format!("bob {round} while down")).await;
            control.ask("start").await;
        }
        write(bob, "bob last".into()).await;

        let on_ann = settled(ann, &expected).await;
        let on_bob = settled(bob, &expected).await;
        each_once("Ann", &on_ann, &expected);
        each_once("Bob", &on_bob, &expected);
        assert_eq!(on_ann, on_bob, "same order for both friends");
        println!("PEER FAULT RUN: {} messages, 3 kills: all delivered once, same order", expected.len());
    })
    .await;
    control_task.abort();
}
