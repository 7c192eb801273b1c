//! Why the server ends a connection, as the close frame it sends (code and reason).

use std::borrow::Cow;

use axum::extract::ws::{CloseFrame, Message};
use kefu_protocol::close;

/// Every reason the server closes a WebSocket, with its code from `kefu_protocol::close`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Close {
    /// Graceful shutdown (SIGTERM): reconnect, to another instance if there is one.
    ShuttingDown,
    /// Nothing received for the idle timeout.
    Idle,
    /// Nothing received at all within the first-frame timeout.
    Silent,
    /// A text frame that is not valid UTF-8.
    InvalidUtf8,
    /// The client does not read its frames fast enough.
    TooSlow,
    /// A frame far over the text limit.
    TooBig,
    /// A frame that breaks the WebSocket protocol.
    ProtocolError,
    /// The store could not serve a resume: reconnect and resume again.
    StorageUnavailable,
    /// Agent accounts could not be read to check a session: reconnect.
    AccountsUnavailable,
    /// The path does not name a valid user id.
    BadUserId,
    /// The identity is not accepted; the reason says why (sign in again).
    Unauthorized(String),
}

impl Close {
    pub fn code(&self) -> u16 {
        match self {
            Close::ShuttingDown | Close::Idle => close::GOING_AWAY,
            Close::TooSlow | Close::AccountsUnavailable => close::TRY_AGAIN_LATER,
            Close::TooBig => close::TOO_BIG,
            Close::ProtocolError => close::PROTOCOL_ERROR,
            Close::StorageUnavailable => close::INTERNAL_ERROR,
            Close::BadUserId | Close::Silent => close::POLICY,
            Close::InvalidUtf8 => close::INVALID_DATA,
            Close::Unauthorized(_) => close::UNAUTHORIZED,
        }
    }

    pub fn reason(&self) -> Cow<'_, str> {
        Cow::Borrowed(match self {
            Close::ShuttingDown => "server shutting down",
            Close::Idle => "idle",
            Close::Silent => "no frame received: say something (a heartbeat) first",
            Close::InvalidUtf8 => "text frames must be UTF-8",
            Close::TooSlow => "client too slow",
            Close::TooBig => "message too big",
            Close::ProtocolError => "protocol error",
            Close::StorageUnavailable => "storage unavailable, reconnect",
            Close::AccountsUnavailable => "accounts are unavailable; retry",
            Close::BadUserId => "user id must be -1 or 0 … 2^53 − 1",
            Close::Unauthorized(reason) => return Cow::Borrowed(reason),
        })
    }

    /// The close frame to send.
    pub fn message(&self) -> Message {
        Message::Close(Some(CloseFrame { code: self.code(), reason: self.reason().into_owned().into() }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_protocol() {
        assert_eq!(Close::ShuttingDown.code(), 1001);
        assert_eq!(Close::TooSlow.code(), 1013);
        assert_eq!(Close::TooBig.code(), 1009);
        assert_eq!(Close::BadUserId.code(), 1008);
        let refused = Close::Unauthorized("token expired: sign in again".into());
        assert_eq!((refused.code(), refused.reason().as_ref()), (4401, "token expired: sign in again"));
    }
}
