//! Reading what a page shows.

use fantoccini::{Client, Locator};
use serde_json::json;

use super::{run, scripts};

/// `data-state` of the status indicator, or "" before the app has mounted.
pub async fn status(client: &Client) -> String {
    run(client, scripts::STATUS, vec![]).await.as_str().unwrap_or_default().to_owned()
}

/// The messages in the log: (data-from, text, data-delivery).
pub async fn messages(client: &Client) -> Vec<(String, String, String)> {
    serde_json::from_value(run(client, scripts::MESSAGES, vec![]).await).expect("messages as triples")
}

/// The team events shown in the console's open conversation ("Resolved by mei"…), in order.
pub async fn team_events(agent: &Client) -> Vec<String> {
    serde_json::from_value(run(agent, scripts::TEAM_EVENTS, vec![]).await).expect("texts")
}

/// The texts of the messages in the log, in order.
pub async fn texts(client: &Client) -> Vec<String> {
    messages(client).await.into_iter().map(|(_, text, _)| text).collect()
}

pub async fn input_value(client: &Client) -> String {
    let input = client.find(Locator::Css(".composer-input")).await.expect("input");
    input.prop("value").await.expect("value").unwrap_or_default()
}

/// The guest identity the page keeps (`{"uid", "token"}`), or `null` without one.
pub async fn stored_guest(client: &Client) -> serde_json::Value {
    run(client, scripts::STORED_GUEST, vec![]).await
}

pub async fn alert_text(client: &Client) -> Option<String> {
    run(client, scripts::ALERT_TEXT, vec![]).await.as_str().map(str::to_owned)
}

pub async fn note_text(client: &Client) -> Option<String> {
    run(client, scripts::NOTE_TEXT, vec![]).await.as_str().map(str::to_owned)
}

/// The failure reason shown under the failed message `text`.
pub async fn failure_reason(client: &Client, text: &str) -> Option<String> {
    run(client, scripts::FAILURE_REASON, vec![json!(text)]).await.as_str().map(str::to_owned)
}

/// Whether own message `text` shows as read by the other side.
pub async fn read_mark(client: &Client, text: &str) -> bool {
    run(client, scripts::READ_MARK, vec![json!(text)]).await.as_bool().unwrap_or(false)
}

/// Whether an element matching `css` is in the page.
pub async fn shown(client: &Client, css: &str) -> bool {
    client.find(Locator::Css(css)).await.is_ok()
}

/// The console's notices.
pub async fn console_notices(agent: &Client) -> Vec<String> {
    serde_json::from_value(run(agent, scripts::CONSOLE_NOTICES, vec![]).await).expect("strings")
}

/// A `data-*` counter of the console page (`alerts`, `sounds`, `notified`).
pub async fn console_counter(agent: &Client, name: &str) -> String {
    run(agent, scripts::CONSOLE_COUNTER, vec![json!(name)]).await.as_str().unwrap_or_default().to_owned()
}

/// The console's list: (uid, online) per row, as the page says them.
pub async fn conversation_rows(agent: &Client) -> Vec<(String, String)> {
    serde_json::from_value(run(agent, scripts::CONVERSATION_ROWS, vec![]).await).expect("rows")
}

/// Unread count of a row (0 without a badge) and whether it shows online; `None` unlisted.
pub async fn row_state(agent: &Client, uid: i64) -> Option<(u64, bool)> {
    serde_json::from_value(run(agent, scripts::ROW_STATE, vec![json!(uid.to_string())]).await)
        .expect("row state")
}

/// The states the status took since [`super::act::record_states`].
pub async fn recorded_states(client: &Client) -> Vec<String> {
    serde_json::from_value(run(client, scripts::RECORDED_STATES, vec![]).await).expect("recorded states")
}
