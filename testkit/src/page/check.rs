//! Waiting until a page shows something (polled with a deadline, never slept).

use std::time::Duration;

use fantoccini::Client;

use super::{find, LOAD};
use crate::eventually;

pub async fn wait_status(client: &Client, state: &str, timeout: Duration) {
    eventually(&format!("status {state}"), timeout, || async {
        (find::status(client).await == state).then_some(())
    })
    .await
}

/// Waits until a message with this text and sender shows with the given delivery.
pub async fn wait_message(client: &Client, from: &str, text: &str, delivery: &str) {
    eventually(&format!("{from} message {text:?} ({delivery})"), LOAD, || async {
        find::messages(client)
            .await
            .iter()
            .any(|(f, t, d)| f == from && t == text && d == delivery)
            .then_some(())
    })
    .await
}

/// Waits for the first `[role=alert]` and returns its text.
pub async fn wait_alert(client: &Client, what: &str) -> String {
    eventually(what, LOAD, || async { find::alert_text(client).await }).await
}
