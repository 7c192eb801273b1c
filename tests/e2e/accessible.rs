//! Every page in each state a person meets checked with axe-core (WCAG 2.1 A and AA) in real
//! Chromium: the user page (connecting, no agent there, a conversation), the Friends page (the
//! list with a friend and a request, a peer conversation), the console's sign-in and the
//! console with a conversation open. Any violation fails, naming the rule and the element.

use kefu_testkit::browser::with_sessions;
use kefu_testkit::page::{self, assert_accessible, LOAD};
use kefu_testkit::server::Server;
use kefu_testkit::{app_friendship_signed, fantoccini, http, APP_SECRET};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_and_state_passes_axe_core() {
    let server = Server::start();
    let ann_page = server.named_user_url(301, Some("Ann"), "lang=en");
    let ann_friends = server.named_friends_url(301, Some("Ann"), "lang=zh");
    let bob_friends = server.named_friends_url(302, Some("Bob"), "lang=en");
    let console = server.url("/agent?lang=en");
    let sessions = [("en-US", (375, 667)), ("en-US", (1280, 800))];
    with_sessions(&sessions, move |browsers| async move {
        let (phone, desktop) = (&browsers[0], &browsers[1]);
        // The user page with nobody there yet, then in a conversation.
        page::open_online(phone, &ann_page).await;
        assert_accessible(phone, "the user page, no agent there").await;
        page::type_and_send(phone, "Hello, is anyone there?").await;
        page::wait_message(phone, "me", "Hello, is anyone there?", "sent").await;

        // The console: its sign-in, then a conversation open.
        desktop.goto(&console).await.expect("open the console");
        desktop
            .wait()
            .at_most(LOAD)
            .for_element(fantoccini::Locator::Css("form.sign-in"))
            .await
            .expect("sign-in");
        assert_accessible(desktop, "the console's sign-in").await;
        page::open_console(desktop, &console).await;
        page::open_conversation(desktop, 301).await;
        page::type_and_send(desktop, "Hi Ann, how can I help?").await;
        page::wait_message(phone, "agent", "Hi Ann, how can I help?", "sent").await;
        assert_accessible(desktop, "the console, a conversation open").await;
        assert_accessible(phone, "the user page, an agent answering").await;

        // The Friends page: Bob exists, Ann and Bob are friends by the app, and they talk.
        desktop.goto(&bob_friends).await.expect("Bob's Friends page");
        page::wait_status(desktop, "online", LOAD).await;
        let body = app_friendship_signed(APP_SECRET, 301, 302, true);
        let response =
            http().post(&server.url(kefu_protocol::api::APP_FRIENDSHIP_PATH)).send(body).expect("POST");
        assert_eq!(response.status().as_u16(), 200);
        phone.goto(&ann_friends).await.expect("Ann's Friends page");
        page::wait_status(phone, "online", LOAD).await;
        phone
            .wait()
            .at_most(LOAD)
            .for_element(fantoccini::Locator::Css("[data-friend='302']"))
            .await
            .expect("Bob");
        assert_accessible(phone, "the Friends page (zh), a friend listed").await;
        phone.goto(&server.named_friends_url(301, Some("Ann"), "lang=zh&view=chat-302")).await.expect("chat");
        phone
            .wait()
            .at_most(LOAD)
            .for_element(fantoccini::Locator::Css("[data-peer='302']"))
            .await
            .expect("chat");
        page::type_and_send(phone, "你好 Bob").await;
        page::wait_message(phone, "me", "你好 Bob", "sent").await;
        assert_accessible(phone, "a peer conversation (zh)").await;
        // Its menu open, and Block waiting for the confirmation.
        phone
            .find(fantoccini::Locator::Css(".peer-menu summary"))
            .await
            .expect("menu")
            .click()
            .await
            .expect("open");
        phone
            .find(fantoccini::Locator::Css(".peer-menu .block"))
            .await
            .expect("block")
            .click()
            .await
            .expect("block");
        phone
            .wait()
            .at_most(LOAD)
            .for_element(fantoccini::Locator::Css(".confirm"))
            .await
            .expect("confirmation");
        assert_accessible(phone, "Block waiting for its confirmation (zh)").await;
        phone
            .find(fantoccini::Locator::Css(".confirm .confirm-no"))
            .await
            .expect("cancel")
            .click()
            .await
            .expect("cancel");
        assert_accessible(desktop, "the Friends page (en)").await;
    })
    .await;
}
