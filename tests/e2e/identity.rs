//! Who the pages are: app tokens, guests kept and replaced, agent sign-in and sign-out,
//! backends without accounts, bad URL settings.

use std::time::Duration;

use fantoccini::Locator;
use kefu_testkit::browser::with_browsers;
use kefu_testkit::page::{self, scripts, LOAD};
use kefu_testkit::server::{self, Control, Server};
use kefu_testkit::{eventually, fantoccini};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_identity_is_explained_and_a_stale_guest_is_replaced() {
    let server = Server::start();
    let expired = kefu_testkit::app_token_signed(kefu_testkit::APP_SECRET, 33, None, -3600);
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
        let note = eventually("new identity noted", LOAD, || async { page::note_text(user).await }).await;
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
    let chat = Server::start_with(&["--allow-origin", &pages.url("")]);
    let url = pages.url(&format!("/?server=ws://127.0.0.1:{}/webSocket/", chat.port));
    let (control_task, control) = Control::take(chat);
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
        let stored = page::run(user, scripts::OUTBOXES, vec![]).await;
        assert!(stored.as_u64().is_some_and(|n| n <= 1), "the old guest's outbox moved: {stored}");
    })
    .await;
    control_task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_accounts_a_visitor_gets_a_made_up_guest_id_and_the_console_needs_no_sign_in() {
    // Like the original backend: no /api, anyone is who they say.
    let server = Server::start_with(&["--insecure-no-auth"]);
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
        let stored = page::run(user, scripts::MADE_UP_GUEST, vec![]).await;
        let made_up = stored[0].as_str().and_then(|uid| uid.parse::<i64>().ok());
        let uid = made_up.filter(|uid| *uid >= 1_000_000_000_000).unwrap_or_else(|| panic!("{stored}"));
        page::open_conversation(agent, uid).await;
        page::wait_message(agent, "user", "hello from a made-up guest", "sent").await;
        assert_eq!(stored[1], false, "no server-issued identity: {stored}");
    })
    .await;
}

/// The agent session token the console keeps in the browser.
const KEPT_SESSION_TOKEN: &str = r#"
    for (let i = 0; i < localStorage.length; i++) {
        const key = localStorage.key(i);
        if (key.startsWith("kefu.agent.")) { return JSON.parse(localStorage.getItem(key)).token; }
    }
    return null;
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_sign_in_stay_signed_in_across_reloads_and_sign_out() {
    let server = Server::start();
    let url = server.url("/agent");
    let agent_socket = server.bare_ws_url("-1");
    with_browsers(2, move |browsers| async move {
        let (agent, elsewhere) = (&browsers[0], &browsers[1]);
        agent.goto(&url).await.expect("open agent console");
        page::sign_in(agent, kefu_testkit::AGENT, "not the password").await;
        let alert = eventually("sign-in refused", LOAD, || async { page::alert_text(agent).await }).await;
        assert_eq!(alert, "wrong name or password");
        assert!(agent.find(Locator::Css(".agent-page")).await.is_err(), "no console without a session");

        agent.goto(&url).await.expect("reopen");
        page::sign_in(agent, kefu_testkit::AGENT, kefu_testkit::AGENT_PASSWORD).await;
        page::wait_status(agent, "online", LOAD).await;
        agent.refresh().await.expect("reload");
        page::wait_status(agent, "online", LOAD).await;
        assert!(agent.find(Locator::Css("form.sign-in")).await.is_err(), "the session is kept");

        // The same agent signed in in another browser too.
        page::open_console(elsewhere, &url).await;
        page::wait_status(elsewhere, "online", LOAD).await;
        let kept = agent.execute(KEPT_SESSION_TOKEN, vec![]).await.expect("read the kept session");
        let token = kept.as_str().expect("a kept session token").to_owned();
        agent.find(Locator::Css("button.sign-out")).await.expect("sign-out").click().await.expect("click");
        let alert = eventually("signed out", LOAD, || async { page::alert_text(agent).await }).await;
        assert_eq!(alert, "Signed out");
        agent.find(Locator::Css("form.sign-in")).await.expect("the sign-in form again");
        // The server was told: the session is over, not only forgotten by this browser.
        let mut copied = kefu_testkit::ws::connect_v1(&format!("{agent_socket}?token={token}")).await;
        let close = kefu_testkit::ws::close_frame(&mut copied).await.expect("refused with a reason");
        let ended = "this session has ended (signed out, or a new password): sign in again";
        assert_eq!(close.1, ended);
        // Signing out ends the account's sessions: the other browser's console is sent back
        // to sign in at once, saying why.
        let alert = eventually("the other console sent back to sign in", LOAD, || async {
            page::alert_text(elsewhere).await.filter(|text| text.contains("session has ended"))
        })
        .await;
        assert_eq!(alert, ended);
        elsewhere.find(Locator::Css("form.sign-in")).await.expect("the sign-in form in the other browser");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_whose_account_is_removed_is_sent_back_to_sign_in() {
    let server = Server::start();
    let url = server.url("/agent");
    let database = server.database.clone();
    let (control_task, control) = Control::take(server);
    with_browsers(1, move |browsers| async move {
        let agent = &browsers[0];
        page::open_console(agent, &url).await;
        page::wait_status(agent, "online", LOAD).await;
        let (ok, output) = server::server_command(
            &server::release_binary(),
            &database,
            &["agent", "remove", kefu_testkit::AGENT],
        );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_names_a_foreign_backend_and_sends_it_no_password() {
    // A link to this site's console that points it at another server (which even allows
    // this site's pages): the console says where it would connect and refuses to sign in.
    let pages_port = kefu_testkit::free_port();
    let elsewhere = Server::start_with(&["--allow-origin", &format!("http://127.0.0.1:{pages_port}")]);
    let pages = Server::start_on(pages_port, &[]);
    let url = pages.url(&format!("/agent?server=ws://127.0.0.1:{}/webSocket/", elsewhere.port));
    let host = format!("127.0.0.1:{}", elsewhere.port);
    with_browsers(1, move |browsers| async move {
        let agent = &browsers[0];
        agent.goto(&url).await.expect("open the console");
        let form = agent.wait().at_most(LOAD).for_element(Locator::Css("form.sign-in")).await.expect("form");
        let shown = form.find(Locator::Css("[data-backend]")).await.expect("the backend is named");
        assert!(shown.text().await.expect("text").contains(&host));
        let alert = page::wait_alert(agent, "the refusal explained").await;
        assert!(alert.contains("will not send your password"), "{alert}");
        let submit = form.find(Locator::Css("button[type=submit]")).await.expect("submit");
        assert_eq!(submit.attr("disabled").await.expect("attr").as_deref(), Some("true"));
        // Typing and pressing Enter does not send it either.
        form.find(Locator::Css("input[name=name]"))
            .await
            .expect("name")
            .send_keys(kefu_testkit::AGENT)
            .await
            .expect("type");
        let secret = form.find(Locator::Css("input[name=password]")).await.expect("password");
        secret.send_keys(&format!("{}\n", kefu_testkit::AGENT_PASSWORD)).await.expect("type");
        assert!(agent.find(Locator::Css(".agent-page")).await.is_err(), "no console, no session");
        assert_eq!(page::alert_text(agent).await.as_deref().map(|a| a.contains("will not send")), Some(true));
    })
    .await;
    drop(pages);
}
