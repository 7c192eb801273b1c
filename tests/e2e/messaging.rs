//! Messages between the user page and the console: both ways, several tabs, refusals,
//! older pages, typing, read receipts.

use fantoccini::Locator;
use kefu_testkit::browser::with_browsers;
use kefu_testkit::page::{self, scripts, LOAD};
use kefu_testkit::server::Server;
use kefu_testkit::{eventually, fantoccini, ws};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_and_agent_exchange_messages_both_ways() {
    let server = Server::start();
    let (user_url, agent_url) = (server.user_url(5, ""), server.url("/agent"));
    with_browsers(2, move |browsers| async move {
        let (user, agent) = (&browsers[0], &browsers[1]);
        page::open_user_and_console(user, &user_url, agent, &agent_url).await;

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
        page::open_conversation(agent, 5).await;
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
            let injected = page::run(client, scripts::INJECTED, vec![]).await;
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

/// Empty messages are refused in the page; a message the server refuses (over a small
/// limit) ends *failed* on both pages, with the server's reason (v1) or notice (v0).
async fn refusals(v1: bool) {
    let mut args = vec!["--max-text", "10"];
    if !v1 {
        args.extend(["--v0-only", "--insecure-no-auth"]);
    }
    let server = Server::start_with(&args);
    let (url, agent_url) = (server.user_url(41, ""), server.url("/agent"));
    with_browsers(2, move |browsers| async move {
        let (user, agent) = (&browsers[0], &browsers[1]);
        page::open_user_and_console(user, &url, agent, &agent_url).await;

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
                eventually("reason shown", LOAD, || async { page::failure_reason(user, long).await }).await;
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
        page::open_conversation(agent, 41).await;
        page::wait_message(agent, "user", "hi", "sent").await;
        let reply = "a reply over ten units";
        page::type_and_send(agent, reply).await;
        page::wait_message(agent, "me", reply, "failed").await;
        if v1 {
            let reason =
                eventually("reason shown", LOAD, || async { page::failure_reason(agent, reply).await }).await;
            assert!(reason.contains("too long"), "{reason}");
        } else {
            let notices = page::console_notices(agent).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrolling_up_loads_older_messages_in_order() {
    let server = Server::start_with(&["--max-frames-per-second", "1000"]);
    ws::seed_conversation(&server.ws_url("71"), 120).await;
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
            page::scroll_to_top(user).await;
            let texts = page::texts(user).await;
            (texts.len() == 120).then_some(texts)
        })
        .await;
        assert_eq!(all, expected, "every message once, in order");
    })
    .await;
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
        page::open_conversation(agent, 91).await;
        let shown = page::shown;
        let clear_within = Duration::from_millis(kefu_protocol::v1::TYPING_SHOWN_MS + 2_000);

        // The agent types without sending: the user sees it, then it clears once they stop.
        let input = agent.find(Locator::Css(".composer-input")).await.expect("agent input");
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
        let input = user.find(Locator::Css(".composer-input")).await.expect("user input");
        input.send_keys("one more th").await.expect("type");
        eventually("agent sees the user typing", LOAD, || async {
            (shown(agent, ".conversation [data-typing=user]").await
                && shown(agent, "button.conversation-item[data-typing=true]").await)
                .then_some(())
        })
        .await;
        // The user sends it and starts the next message at once: the message clears the
        // indicator, the first key of the next one shows it again (before, the page said
        // nothing for up to 2 s after its last notice, and one key was never shown).
        page::click_send(user).await;
        page::wait_message(agent, "user", "one more th", "sent").await;
        eventually("the message clears the indicator", LOAD, || async {
            (!shown(agent, ".conversation [data-typing=user]").await).then_some(())
        })
        .await;
        input.send_keys("a").await.expect("type one key");
        eventually("agent sees the next message being typed", LOAD, || async {
            shown(agent, ".conversation [data-typing=user]").await.then_some(())
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
        let read_mark = page::read_mark;
        assert!(!read_mark(user, "is my parcel lost?").await, "not read before an agent opens it");
        // Both agents see it unread.
        let unread = "button.conversation-item[data-uid='95'] .unread";
        for console in [agent, colleague] {
            console.wait().at_most(LOAD).for_element(Locator::Css(unread)).await.expect("unread badge");
        }
        // The first agent opens it: the user sees "read", the colleague's badge clears.
        page::open_conversation(agent, 95).await;
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
        page::open_conversation(colleague, 95).await;
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
