//! The agent console: the list (presence, unread, filter), private conversations, the
//! connect switch, alerts (title, tone, desktop notifications).

use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use kefu_testkit::browser::{self, with_browsers};
use kefu_testkit::page::{self, LOAD};
use kefu_testkit::server::Server;
use kefu_testkit::{eventually, fantoccini};

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
                let want = (uid.to_string(), online.to_string());
                eventually(&format!("user {uid} shown online={online}"), LOAD, || async {
                    page::conversation_rows(&agent).await.contains(&want).then_some(())
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
            let uids: Vec<String> =
                page::conversation_rows(agent).await.into_iter().map(|(uid, _)| uid).collect();
            (uids == ["82"]).then_some(())
        })
        .await;
        let name =
            agent.find(Locator::Css("button.conversation-item[data-uid='82'] .conversation-name")).await;
        assert_eq!(name.expect("row").text().await.expect("name").trim(), "Zhang Wei");
    })
    .await;
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
            (page::row_state(agent, 11).await == Some((2, true)) && page::row_state(agent, 12).await == Some((1, true)))
                .then_some(())
        })
        .await;
        page::open_conversation(agent, 12).await;
        page::type_and_send(agent, "for Bob only").await;
        page::wait_message(bob, "agent", "for Bob only", "sent").await;
        eventually("Bob's read, Alice's still unread", LOAD, || async {
            (page::row_state(agent, 12).await == Some((0, true)) && page::row_state(agent, 11).await == Some((2, true)))
                .then_some(())
        })
        .await;
        page::open_conversation(agent, 11).await;
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
        page::open_conversation(agent, 97).await;
        page::wait_message(agent, "user", "written before any agent", "sent").await;
        assert_eq!(page::console_counter(agent, "alerts").await, "0", "the replay does not alert");

        let sound = agent.find(Locator::Css("button.sound-switch")).await.expect("sound switch");
        assert_eq!(sound.attr("aria-pressed").await.expect("attr").as_deref(), Some("false"));
        sound.click().await.expect("switch sound on");
        assert_eq!(sound.attr("aria-pressed").await.expect("attr").as_deref(), Some("true"));
        page::type_and_send(user, "ring ring").await;
        page::wait_message(agent, "user", "ring ring", "sent").await;
        eventually("one alert with its tone", LOAD, || async {
            let counts =
                (page::console_counter(agent, "alerts").await, page::console_counter(agent, "sounds").await);
            (counts == ("1".to_owned(), "1".to_owned())).then_some(())
        })
        .await;
        // The agent's own reply is no news; the switch is remembered across a reload.
        page::type_and_send(agent, "on my way").await;
        page::wait_message(agent, "me", "on my way", "sent").await;
        page::wait_message(user, "agent", "on my way", "sent").await;
        assert_eq!(page::console_counter(agent, "alerts").await, "1");
        agent.refresh().await.expect("reload");
        page::wait_status(agent, "online", LOAD).await;
        let sound = agent.find(Locator::Css("button.sound-switch")).await.expect("sound switch");
        assert_eq!(sound.attr("aria-pressed").await.expect("attr").as_deref(), Some("true"));
        // Headless Chromium denies notifications: the switch says so instead of doing nothing.
        let desktop = agent.find(Locator::Css("button.desktop-switch")).await.expect("desktop switch");
        desktop.click().await.expect("ask for desktop alerts");
        eventually("the refusal explained", LOAD, || async {
            page::console_notices(agent)
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn desktop_notifications_only_while_the_console_tab_is_hidden() {
    let server = Server::start();
    let (user_url, agent_url) = (server.user_url(98, ""), server.url("/agent?lang=en"));
    let blank = server.url("/api/config");
    let specs = [
        ("en-US", (420, 860), serde_json::json!({})),
        ("en-US", (1100, 700), browser::notifications_allowed()),
    ];
    browser::with_sessions_and_prefs(&specs, move |browsers| async move {
        let (user, agent) = (&browsers[0], &browsers[1]);
        page::open_user_and_console(user, &user_url, agent, &agent_url).await;
        let desktop = agent.find(Locator::Css("button.desktop-switch")).await.expect("desktop switch");
        desktop.click().await.expect("switch desktop alerts on");
        eventually("desktop alerts on (permission granted)", LOAD, || async {
            (desktop.attr("aria-pressed").await.ok().flatten().as_deref() == Some("true")).then_some(())
        })
        .await;

        // Watching the console: the list shows it, no notification.
        page::type_and_send(user, "while you watch").await;
        eventually("alert raised", LOAD, || async {
            (page::console_counter(agent, "alerts").await == "1").then_some(())
        })
        .await;
        assert_eq!(page::console_counter(agent, "notified").await, "0");

        // Another tab in front hides the console: the next message notifies.
        let console_tab = agent.window().await.expect("console tab");
        let other_tab = agent.new_window(true).await.expect("new tab").handle;
        agent.switch_to_window(other_tab).await.expect("switch");
        agent.goto(&blank).await.expect("open something else");
        page::type_and_send(user, "while you are away").await;
        // The hidden console's title counts both unread messages once the second has arrived.
        eventually("the hidden console got the message", LOAD, || async {
            browser::tab_titles(agent).await.iter().any(|t| t.starts_with("(2)")).then_some(())
        })
        .await;
        agent.switch_to_window(console_tab).await.expect("back to the console");
        assert_eq!(page::console_counter(agent, "alerts").await, "2");
        assert_eq!(page::console_counter(agent, "notified").await, "1");
    })
    .await;
}

/// The list's rows in the page: (place in the view, uid) of each, and the view's size.
const WINDOW: &str = "const rows = [...document.querySelectorAll('.conversation-scroll li')]; \
     return [rows.map(li => [Number(li.getAttribute('aria-posinset')), \
       Number(li.querySelector('button').dataset.uid)]), \
       rows.length ? Number(rows[0].getAttribute('aria-setsize')) : 0];";

/// Whether the selected row is wholly inside the list's scrolled area, and its place.
const SELECTED_ON_SCREEN: &str =
    "const b = document.querySelector('button.conversation-item[aria-current=true]'); \
     if (!b) return [false, 0]; \
     const s = document.querySelector('.conversation-scroll').getBoundingClientRect(); \
     const r = b.getBoundingClientRect(); \
     return [r.top >= s.top - 1 && r.bottom <= s.bottom + 1, \
       Number(b.parentElement.getAttribute('aria-posinset'))];";

async fn window_rows(agent: &Client) -> (Vec<(u64, u64)>, u64) {
    serde_json::from_value(page::run(agent, WINDOW, vec![]).await).expect("rows")
}

/// A console with 300 conversations keeps only the rows on screen (and a few around them)
/// in the page: scrolled to the end it shows the last ones, j moves the selection past the
/// screen's edge and the list follows it, another view shows its own rows, the filter finds
/// one far down (in capitals), axe passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_list_keeps_only_the_rows_on_screen_and_follows_the_selection() {
    let server = Server::start_seeded(300, 900);
    let agent_url = server.url("/agent?lang=en");
    with_browsers(1, move |browsers| async move {
        let agent = &browsers[0];
        page::open_console(agent, &agent_url).await;
        page::wait_status(agent, "online", LOAD).await;
        let (rows, size) = eventually("all 300 conversations listed", LOAD, || async {
            let (rows, size) = window_rows(agent).await;
            (size == 300).then_some((rows, size))
        })
        .await;
        assert!(rows.len() < 60, "{} rows of {size} in the page", rows.len());
        let places: Vec<u64> = rows.iter().map(|(place, _)| *place).collect();
        assert_eq!(places, (1..=rows.len() as u64).collect::<Vec<_>>(), "the first rows, in order");

        page::run(
            agent,
            "const s = document.querySelector('.conversation-scroll'); s.scrollTop = s.scrollHeight;",
            vec![],
        )
        .await;
        let last = eventually("the last rows shown at the end", LOAD, || async {
            let (rows, _) = window_rows(agent).await;
            rows.iter().any(|(place, _)| *place == 300).then_some(rows)
        })
        .await;
        assert!(last.iter().all(|(place, _)| *place > 200), "only rows near the end: {last:?}");
        let far_uid = last.iter().find(|(place, _)| *place == 290).expect("row 290").1;

        page::run(agent, "document.querySelector('.conversation-scroll').scrollTop = 0;", vec![]).await;
        eventually("back at the top", LOAD, || async {
            window_rows(agent).await.0.first().is_some_and(|(place, _)| *place == 1).then_some(())
        })
        .await;
        page::run(agent, "document.activeElement.blur();", vec![]).await;
        let body = agent.find(Locator::Css("body")).await.expect("body");
        for _ in 0..40 {
            body.send_keys("j").await.expect("j");
        }
        eventually("the 40th conversation selected and scrolled into view", LOAD, || async {
            let (shown, place): (bool, u64) =
                serde_json::from_value(page::run(agent, SELECTED_ON_SCREEN, vec![]).await).ok()?;
            (shown && place == 40).then_some(())
        })
        .await;

        // Another view shows its own rows (none of these 300 is this agent's), and back.
        for (view, want) in [("mine", 0), ("all", 300)] {
            agent
                .find(Locator::Css(&format!(".view[data-view='{view}']")))
                .await
                .expect("tab")
                .click()
                .await
                .expect("click");
            eventually(&format!("the {view} view's {want} rows"), LOAD, || async {
                let (rows, size) = window_rows(agent).await;
                (size == want && rows.is_empty() == (want == 0)).then_some(())
            })
            .await;
        }

        let filter = agent.find(Locator::Css("input.conversation-filter")).await.expect("filter");
        // In capitals: the filter ignores case (the browser lowercases, `kefu_core::i18n::Fold`).
        let name = format!("CUSTOMER {far_uid}");
        filter.send_keys(&name).await.expect("type filter");
        eventually("the filter finds a conversation far down", LOAD, || async {
            let (rows, size) = window_rows(agent).await;
            (size >= 1 && rows.iter().any(|(_, uid)| *uid == far_uid)).then_some(())
        })
        .await;
        page::assert_accessible(agent, "console, a long list").await;
    })
    .await;
}
