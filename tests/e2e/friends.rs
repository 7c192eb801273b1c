//! Friends and peer chat in real browsers against the reference server: an invite link, a
//! request by id, chat both ways with typing, read marks and presence, the screen kept in the
//! address (back and reload), a block, a friendship set by the app's backend, and a console
//! that never sees any of it.

use fantoccini::{Client, Locator};
use kefu_testkit::browser::with_sessions;
use kefu_testkit::page::{self, LOAD};
use kefu_testkit::server::Server;
use kefu_testkit::{eventually, fantoccini, http, APP_SECRET};

async fn attr(client: &Client, css: &str, name: &str) -> Option<String> {
    client.find(Locator::Css(css)).await.ok()?.attr(name).await.ok().flatten()
}

async fn click(client: &Client, css: &str) {
    let element =
        client.wait().at_most(LOAD).for_element(Locator::Css(css)).await.unwrap_or_else(|_| panic!("{css}"));
    element.click().await.unwrap_or_else(|err| panic!("click {css}: {err}"));
}

async fn wait_for(client: &Client, css: &str) {
    client
        .wait()
        .at_most(LOAD)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|_| panic!("{css} shown"));
}

/// Waits until the element matching `css` has attribute `name` = `value`.
async fn wait_attr(client: &Client, css: &str, name: &str, value: &str) {
    eventually(&format!("{css} [{name}={value}]"), LOAD, || async {
        (attr(client, css, name).await.as_deref() == Some(value)).then_some(())
    })
    .await
}

/// The uids on the page's friends list, in order.
async fn friend_uids(client: &Client) -> Vec<String> {
    let value = page::run(
        client,
        "return [...document.querySelectorAll('[data-friend]')].map(b => b.dataset.friend);",
        vec![],
    )
    .await;
    serde_json::from_value(value).expect("strings")
}

async fn current_url(client: &Client) -> String {
    client.current_url().await.expect("url").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invite_link_makes_friends_who_chat_with_typing_reads_presence_and_real_urls() {
    let server = Server::start();
    let ann_url = server.named_user_url(201, Some("Ann"), "lang=en");
    let sessions = [("en-US", (375, 667)), ("en-US", (375, 667))];
    let guest_page = server.url("/?lang=en");
    with_sessions(&sessions, move |browsers| async move {
        let (ann, bob) = (&browsers[0], &browsers[1]);
        page::open_online(ann, &ann_url).await;
        click(ann, "[data-tab=friends]").await;
        wait_for(ann, "[data-screen=friends] .invite-link").await;
        assert!(
            current_url(ann).await.contains("/friends?"),
            "the Friends page is its own: {}",
            current_url(ann).await
        );
        let link = eventually("an invite link", LOAD, || async {
            let value = page::run(ann, "return document.querySelector('.invite-link').value;", vec![]).await;
            value.as_str().filter(|v| v.contains("invite=")).map(str::to_owned)
        })
        .await;
        assert!(!link.contains("token=") && !link.contains("uid="), "an invite carries no identity: {link}");
        assert!(link.starts_with(&guest_page.replace("/?lang=en", "/")), "{link}");
        // The link as a QR code, drawn by the server: a picture the browser could decode.
        let qr = eventually("the QR code drawn", LOAD, || async {
            let size = page::run(
                ann,
                "const img = document.querySelector('img[data-qr]'); \
                return img && img.complete ? img.naturalWidth : 0;",
                vec![],
            )
            .await;
            size.as_u64().filter(|&width| width > 0)
        })
        .await;
        assert!(qr >= 4 * 29, "at least a 21-module code and its quiet zone, 4 px a module: {qr}");

        // Bob opens it on his phone: a guest, offered to add Ann, who is there at once.
        bob.goto(&link).await.expect("open the invite");
        wait_for(bob, "[data-inviter='201']").await;
        click(bob, "[data-inviter='201'] button").await;
        wait_for(bob, "[data-friend='201'][data-online=true]").await;
        assert!(!current_url(bob).await.contains("invite="), "an answered invite leaves the address");
        let bob_uid =
            eventually("Bob on Ann's list", LOAD, || async { friend_uids(ann).await.into_iter().next() })
                .await;

        // Bob writes; Ann sees the news on her list and reads it; Bob sees it read.
        click(bob, "[data-friend='201']").await;
        wait_for(bob, "[data-peer='201']").await;
        assert!(current_url(bob).await.contains("view=chat-201"));
        page::type_and_send(bob, "Hi Ann, it's Bob 👋").await;
        page::wait_message(bob, "me", "Hi Ann, it's Bob 👋", "sent").await;
        wait_attr(ann, &format!("[data-friend='{bob_uid}'] .unread"), "data-unread", "1").await;
        wait_attr(ann, "[data-tab=friends] .unread", "data-unread", "1").await;
        assert!(ann.title().await.expect("title").starts_with("(1)"), "the tab's title counts it");
        click(ann, &format!("[data-friend='{bob_uid}']")).await;
        page::wait_message(ann, "user", "Hi Ann, it's Bob 👋", "sent").await;
        eventually("read by Ann", LOAD, || async {
            page::read_mark(bob, "Hi Ann, it's Bob 👋").await.then_some(())
        })
        .await;
        assert!(!page::shown(ann, "[data-tab=friends] .unread").await, "nothing unread once seen");

        // Typing shows on the other side; the answer arrives.
        let input = ann.find(Locator::Css(".composer-input")).await.expect("composer");
        input.send_keys("Hello").await.expect("type");
        wait_for(bob, "[data-typing=friend]").await;
        page::click_send(ann).await;
        page::wait_message(bob, "user", "Hello", "sent").await;

        // The back gesture returns to the list, a reload keeps the screen.
        ann.back().await.expect("back");
        wait_for(ann, "[data-screen=friends]").await;
        ann.refresh().await.expect("reload");
        wait_for(ann, &format!("[data-screen=friends] [data-friend='{bob_uid}']")).await;
        ann.forward().await.expect("forward");
        wait_for(ann, &format!("[data-peer='{bob_uid}']")).await;
        page::wait_message(ann, "me", "Hello", "sent").await;
        // A reload on the conversation itself shows its messages: the page asked for them
        // before its link was ready, and that request waited instead of vanishing (before,
        // it said "No messages yet" until opened again).
        ann.refresh().await.expect("reload the conversation");
        wait_for(ann, &format!("[data-peer='{bob_uid}']")).await;
        page::wait_message(ann, "user", "Hi Ann, it's Bob 👋", "sent").await;
        page::wait_message(ann, "me", "Hello", "sent").await;

        // Bob is there. He taps over to customer service and back (two page loads, two
        // connections): Ann never sees him leave. When he does leave, she sees him offline.
        wait_attr(ann, ".peer-bar .friend-status", "data-online", "true").await;
        page::run(
            ann,
            "const status = document.querySelector('.peer-bar .friend-status'); \
            window.kefuPresence = []; \
            new MutationObserver(() => window.kefuPresence.push(status.dataset.online)) \
              .observe(status, { attributes: true, attributeFilter: ['data-online'] });",
            vec![],
        )
        .await;
        click(bob, "[data-tab=support]").await;
        wait_for(bob, "[data-screen=support] [data-tab=friends]").await;
        page::wait_status(bob, "online", LOAD).await;
        click(bob, "[data-tab=friends]").await;
        wait_for(bob, "[data-screen=friends] [data-friend='201']").await;
        page::wait_status(bob, "online", LOAD).await;
        bob.clone().close().await.expect("Bob leaves");
        wait_attr(ann, ".peer-bar .friend-status", "data-online", "false").await;
        let seen = page::run(ann, "return window.kefuPresence;", vec![]).await;
        assert_eq!(seen, serde_json::json!(["false"]), "offline once, when he left for good");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_by_id_a_block_the_apps_backend_and_a_console_that_sees_none_of_it() {
    let server = Server::start();
    let carl_url = server.named_user_url(301, Some("Carl"), "lang=en&view=friends");
    let dan_url = server.named_user_url(302, Some("Dan"), "lang=en&view=friends");
    let agent_url = server.url("/agent?lang=en");
    let friendship_url = server.url(kefu_protocol::api::APP_FRIENDSHIP_PATH);
    let sessions = [("en-US", (375, 667)), ("en-US", (375, 667)), ("en-US", (1280, 800))];
    with_sessions(&sessions, move |browsers| async move {
        let (carl, dan, agent) = (&browsers[0], &browsers[1], &browsers[2]);
        page::open_console(agent, &agent_url).await;
        page::open_online(dan, &dan_url).await;
        page::open_online(carl, &carl_url).await;
        wait_for(carl, "[data-screen=friends]").await;
        // Addresses of the Friends screens at `/` (from earlier versions) lead to its page.
        let url = current_url(carl).await;
        assert!(url.contains("/friends?") && url.contains("uid=301"), "{url}");

        // A wrong id is said plainly; a right one sends the request with its note.
        carl.find(Locator::Css(".add-friend input[name=uid]"))
            .await
            .expect("id")
            .send_keys("999")
            .await
            .expect("type");
        // One's own id is shown, to give to the other (the form asks for theirs).
        wait_for(carl, ".add-friend [data-my-id='301']").await;
        click(carl, ".add-friend button[type=submit]").await;
        let refusal = page::wait_alert(carl, "a refusal").await;
        assert_eq!(refusal, kefu_core::i18n::EN_FRIENDS.unknown_user);
        carl.find(Locator::Css(".add-friend input[name=uid]"))
            .await
            .expect("id")
            .send_keys("302")
            .await
            .expect("type");
        // A long note (100 characters) is shown whole, wrapped, not cut off.
        let long_note = format!("Carl from <b>work</b>, {}", "很高兴认识你".repeat(13));
        let long_note: String = long_note.chars().take(100).collect();
        carl.find(Locator::Css(".add-friend input[name=note]"))
            .await
            .expect("note")
            .send_keys(&long_note)
            .await
            .expect("type");
        click(carl, ".add-friend button[type=submit]").await;
        wait_for(carl, "[data-outgoing='302']").await;
        wait_attr(dan, "[data-requests]", "data-requests", "1").await;
        let note = dan.find(Locator::Css("[data-incoming='301'] .request-note")).await.expect("note");
        assert_eq!(note.text().await.expect("text"), long_note, "a note is text, not markup, and whole");
        let cut = page::run(
            dan,
            "const n = document.querySelector(\"[data-incoming='301'] .request-note\"); \
             return n.scrollWidth > n.clientWidth || getComputedStyle(n).textOverflow === 'ellipsis';",
            vec![],
        )
        .await;
        assert_eq!(cut, serde_json::json!(false), "the note wraps instead of being cut off");
        click(dan, "[data-incoming='301'] .accept").await;
        wait_for(dan, "[data-friend='301']").await;
        wait_for(carl, "[data-friend='302']").await;

        // They chat; the console sees neither the conversation nor its messages. Dan is on
        // the customer-service page meanwhile: its Friends tab and title count the message,
        // which is not shown there.
        click(dan, "[data-tab=support]").await;
        wait_for(dan, "[data-screen=support] [data-tab=friends]").await;
        page::wait_status(dan, "online", LOAD).await;
        click(carl, "[data-friend='302']").await;
        page::type_and_send(carl, "private to Dan").await;
        page::wait_message(carl, "me", "private to Dan", "sent").await;
        wait_attr(dan, "[data-tab=friends] .unread", "data-unread", "1").await;
        assert!(dan.title().await.expect("title").starts_with("(1)"), "the tab's title counts it");
        assert_eq!(
            page::run(dan, "return document.body.textContent.includes('private to Dan');", vec![]).await,
            serde_json::json!(false)
        );
        click(dan, "[data-tab=friends]").await;
        wait_attr(dan, "[data-friend='301'] .unread", "data-unread", "1").await;
        let rows = page::conversation_rows(agent).await;
        assert!(rows.iter().all(|(uid, _)| !uid.starts_with('-')), "{rows:?}");
        let seen_by_agent =
            page::run(agent, "return document.body.textContent.includes('private to Dan');", vec![]).await;
        assert_eq!(seen_by_agent, serde_json::json!(false));

        // Carl starts another message. Dan blocks Carl, from the conversation's menu and
        // after confirming (one tap is not enough; Cancel does nothing): Carl's conversation
        // stays readable, with Dan's name and Carl's draft, and says why it takes no more
        // messages (the server refuses them too: server/tests/friends.rs); Dan lists him as
        // blocked.
        let draft = carl.find(Locator::Css(".composer-input")).await.expect("composer");
        draft.send_keys("are you there").await.expect("type a draft");
        click(dan, "[data-friend='301']").await;
        click(dan, ".peer-menu summary").await;
        click(dan, ".peer-menu .block").await;
        click(dan, ".confirm .confirm-no").await;
        assert!(!page::shown(dan, ".confirm").await, "cancelled");
        click(dan, ".peer-menu .block").await;
        click(dan, ".confirm .confirm-yes").await;
        wait_for(dan, "[data-blocked='301']").await;
        let said = page::wait_alert(carl, "no longer friends").await;
        assert_eq!(said, kefu_core::i18n::EN_FRIENDS.not_friends);
        page::wait_message(carl, "me", "private to Dan", "sent").await;
        let title = carl.find(Locator::Css("[data-peer='302'] .title")).await.expect("title");
        assert_eq!(title.text().await.expect("name"), "Dan", "the name stays");
        let kept = page::run(carl, "return document.querySelector('.composer-input').value;", vec![]).await;
        assert_eq!(kept, serde_json::json!("are you there"), "the draft stays");
        page::click_send(carl).await;
        let refusal = eventually("sending says why", LOAD, || async {
            let said = page::run(
                carl,
                "const e = document.querySelector('.composer-error'); return e && e.textContent;",
                vec![],
            )
            .await;
            said.as_str().map(str::to_owned)
        })
        .await;
        assert_eq!(refusal, kefu_core::i18n::EN_FRIENDS.not_friends);
        click(dan, "[data-blocked='301'] .unblock").await;
        eventually("unblocked", LOAD, || async {
            (!page::shown(dan, "[data-blocked='301']").await).then_some(())
        })
        .await;

        // The app's backend makes them friends again: both lists show it live.
        let body = kefu_testkit::app_friendship_signed(APP_SECRET, 301, 302, true);
        let response = http().post(&friendship_url).send(body).expect("POST");
        assert_eq!(response.status().as_u16(), 200);
        wait_for(dan, "[data-friend='301']").await;
        click(carl, ".back").await;
        wait_for(carl, "[data-friend='302']").await;
    })
    .await;
}

/// While one's own link is down, whether a friend is online cannot be known: no friend is
/// shown online (before: a green "online" stayed), and once back the list says again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_friend_is_shown_online_while_ones_own_link_is_down() {
    let pages_port = kefu_testkit::free_port();
    let chat = Server::start_with(&["--allow-origin", &format!("http://127.0.0.1:{pages_port}")]);
    let pages = Server::start_on(pages_port, &[]);
    let proxy = kefu_testkit::proxy::Proxy::start(chat.port).await;
    // Ann, connected all along; Bob's page reaches the server through the proxy.
    let ann_url = format!("{}?token={}", chat.bare_ws_url("401"), kefu_testkit::app_token(401, Some("Ann")));
    let mut ann = kefu_testkit::ws::connect_v2(&ann_url).await;
    kefu_testkit::ws::resume(&mut ann, vec![]).await;
    let body = kefu_testkit::app_friendship_signed(APP_SECRET, 401, 402, true);
    let response = http().post(&chat.url(kefu_protocol::api::APP_FRIENDSHIP_PATH)).send(body).expect("POST");
    assert_eq!(response.status().as_u16(), 200);
    let bob_url = pages.url(&format!(
        "/friends?uid=402&token={}&server=ws://127.0.0.1:{}/webSocket/&lang=en",
        kefu_testkit::app_token(402, Some("Bob")),
        proxy.port
    ));
    with_sessions(&[("en-US", (375, 667))], move |browsers| async move {
        let bob = &browsers[0];
        page::open_online(bob, &bob_url).await;
        wait_for(bob, "[data-friend='401'][data-online=true]").await;
        proxy.cut();
        page::wait_status(bob, "offline", LOAD).await;
        wait_for(bob, "[data-friend='401'][data-online=false]").await;
        proxy.restore();
        page::wait_status(bob, "online", LOAD).await;
        wait_for(bob, "[data-friend='401'][data-online=true]").await;
        drop(ann);
    })
    .await;
}
