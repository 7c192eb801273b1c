//! Doing what a person does on a page.

use fantoccini::{Client, Locator};

use super::{check, run, scripts, LOAD};
use crate::{eventually, AGENT, AGENT_PASSWORD};

pub async fn type_and_send(client: &Client, text: &str) {
    let input =
        client.wait().at_most(LOAD).for_element(Locator::Css(".composer-input")).await.expect("input");
    input.send_keys(text).await.expect("type");
    click_send(client).await;
}

/// Clicks the send button. A click can miss while the page moves under the pointer (a status
/// line appearing) or re-renders the button; such a click did nothing, so it is tried again.
pub async fn click_send(client: &Client) {
    let mut tries = 0;
    loop {
        let button = client.find(Locator::Css("button.send")).await.expect("send button");
        match button.click().await {
            Ok(_) => return,
            Err(err) if tries < 3 => {
                eprintln!("click send missed ({err}); again");
                tries += 1;
            }
            Err(err) => panic!("click send: {err}"),
        }
    }
}

/// Opens the agent console at `url`, signing in as the test agent if it asks.
pub async fn open_console(client: &Client, url: &str) {
    client.goto(url).await.expect("open agent console");
    let form = eventually("sign-in form or console", LOAD, || async {
        run(client, scripts::CONSOLE_OR_FORM, vec![]).await.as_str().map(|s| s == "form")
    })
    .await;
    if form {
        sign_in(client, AGENT, AGENT_PASSWORD).await;
    }
    if client.wait().at_most(LOAD).for_element(Locator::Css(".agent-page")).await.is_err() {
        // Say what the page shows instead, so a failure explains itself.
        let shown = super::find::alert_text(client).await;
        panic!("no console after signing in; the page says: {shown:?}");
    }
}

/// Fills in and submits the sign-in form.
pub async fn sign_in(client: &Client, name: &str, password: &str) {
    let form = client.wait().at_most(LOAD).for_element(Locator::Css("form.sign-in")).await.expect("form");
    form.find(Locator::Css("input[name=name]")).await.expect("name").send_keys(name).await.expect("type");
    let secret = form.find(Locator::Css("input[name=password]")).await.expect("password");
    secret.send_keys(password).await.expect("type");
    form.find(Locator::Css("button[type=submit]")).await.expect("submit").click().await.expect("submit");
}

/// Opens, in the console, the conversation of user `uid`. The list re-renders a row whenever
/// its preview or presence changes, so a found row may go stale before the click: find and
/// click again until the row shows as the open one.
pub async fn open_conversation(agent: &Client, uid: i64) {
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

/// Breaks the signature of the kept guest token, as a server whose key changed would see
/// it; returns the guest's id.
pub async fn spoil_guest_token(client: &Client) -> i64 {
    run(client, scripts::SPOIL_GUEST_TOKEN, vec![]).await.as_i64().expect("guest uid")
}

/// Scrolls the message log to the top, which asks for older messages.
pub async fn scroll_to_top(client: &Client) {
    run(client, scripts::SCROLL_TO_TOP, vec![]).await;
}

/// Opens the user page at `url` and waits until it is online.
pub async fn open_online(client: &Client, url: &str) {
    client.goto(url).await.expect("open the page");
    check::wait_status(client, "online", LOAD).await;
}

/// Opens the console (signing in) and the user page, and waits until both are online.
pub async fn open_user_and_console(user: &Client, user_url: &str, agent: &Client, agent_url: &str) {
    open_console(agent, agent_url).await;
    open_online(user, user_url).await;
    check::wait_status(agent, "online", LOAD).await;
}

/// Sends `text` from the page's composer at once (see [`scripts::SEND_NOW`]).
pub async fn send_now(client: &Client, text: &str) {
    run(client, scripts::SEND_NOW, vec![text.into()]).await;
}

/// Starts recording the states the page's status takes; read them with
/// [`super::find::recorded_states`].
pub async fn record_states(client: &Client) {
    run(client, scripts::RECORD_STATES, vec![]).await;
}
