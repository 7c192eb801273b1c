//! Whether a backend is up, asked without a WebSocket while it is down. Chromium makes each
//! refused WebSocket attempt to a host wait longer than the one before (measured: the page
//! was back 0.1 s after a first 30 s outage, 3.6 s after a fourth): during an outage the page
//! asks with a plain HTTP request, which is not held back, and opens the WebSocket only once
//! that is answered. Pure: the page carries out the request.

/// The address to ask: the WebSocket endpoint's host with `/healthz` (`ws` → `http`, `wss` →
/// `https`). Any answer counts, 404 included (a backend without `/healthz`, as the original,
/// is up when it answers at all); `None` for an address that is not a WebSocket URL.
pub fn probe_url(websocket_url: &str) -> Option<String> {
    let (scheme, rest) = websocket_url.split_once("://")?;
    let scheme = match scheme {
        "ws" => "http",
        "wss" => "https",
        _ => return None,
    };
    let host = rest.split(['/', '?', '#']).next().filter(|host| !host.is_empty())?;
    Some(format!("{scheme}://{host}{HEALTHZ_PATH}"))
}

use kefu_protocol::api::HEALTHZ_PATH;

/// How long a probe may take before it counts as unanswered (a black-holed host).
pub const PROBE_TIMEOUT_MS: u32 = 1_500;

/// Whether the next attempt should ask first: after a failed attempt, until one opens.
pub fn ask_first(failed_attempts: u32) -> bool {
    failed_attempts > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_asks_the_same_host_over_http() {
        assert_eq!(
            probe_url("ws://127.0.0.1:8080/webSocket/5?token=x").as_deref(),
            Some("http://127.0.0.1:8080/healthz")
        );
        assert_eq!(
            probe_url("wss://kefu.example/webSocket/-1").as_deref(),
            Some("https://kefu.example/healthz")
        );
        assert_eq!(probe_url("http://kefu.example/"), None);
        assert_eq!(probe_url("ws:///x"), None);
        assert!(!ask_first(0) && ask_first(1));
    }
}
