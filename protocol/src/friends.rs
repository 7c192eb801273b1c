//! Friends and peer conversations (protocol v2, subprotocol [`SUBPROTOCOL_V2`]): the types
//! the friend frames carry, the limits both sides keep, and how a peer conversation is named.
//!
//! v2 is v1 plus these frames (see `docs/protocol.md`, "v2: friends"). A client offers
//! `kefu.v2, kefu.v1`; a server that selects only v1 (or a v0 backend) has no friends, and
//! the page does not show them.

use serde::{Deserialize, Serialize};

use crate::v1::{ConversationId, Message, UserId};

/// The WebSocket subprotocol that selects v2.
pub const SUBPROTOCOL_V2: &str = "kefu.v2";
/// Longest note on a friend request, in characters.
pub const MAX_NOTE_CHARS: usize = 100;
/// Most friends one user may have.
pub const MAX_FRIENDS: usize = 1_000;
/// A pending request is dropped this long after it was sent.
pub const REQUEST_EXPIRY_SECS: u64 = 30 * 24 * 60 * 60;
/// Pending requests one user may have waiting for their answer; past it new ones are refused
/// (`too_many`) until some are answered or expire.
pub const MAX_PENDING_REQUESTS: usize = 100;
/// Friend requests one user may send per [`REQUEST_WINDOW_SECS`].
pub const MAX_REQUESTS_PER_WINDOW: u32 = 30;
pub const REQUEST_WINDOW_SECS: u64 = 60 * 60;
/// How long an invite link stays valid.
pub const INVITE_SECS: u64 = 30 * 24 * 60 * 60;
/// The longest an app's friendship body may live (its `exp`, from now): a body captured on
/// the way is worth little for long.
pub const MAX_APP_BODY_SECS: u64 = 5 * 60;
/// The Friends page's path, beside the customer-service page (`/friends`): where invite
/// links lead.
pub const FRIENDS_PAGE: &str = "friends";
/// Query parameter of the user page that carries an invite.
pub const INVITE_PARAM: &str = "invite";

/// A person as friend lists show them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub uid: UserId,
    pub name: String,
    /// An image URL from the app's token; empty: show initials.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub avatar: String,
}

/// A friend, with what the list shows of their conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Friend {
    #[serde(flatten)]
    pub person: Person,
    /// The peer conversation with this friend.
    pub conversation: ConversationId,
    pub online: bool,
    /// The conversation's latest message, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<Message>,
    /// Messages from the friend after the reader's read position.
    #[serde(default)]
    pub unread: u64,
}

/// A pending friend request (to the reader, or from them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    #[serde(flatten)]
    pub person: Person,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
    /// Unix seconds when it was sent.
    pub sent: u64,
}

/// Everything a user's friends screen shows, sent whole during the replay and after every
/// change (a few KB for a typical list; at most [`MAX_FRIENDS`] entries).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Friends {
    pub friends: Vec<Friend>,
    /// Requests to the reader, newest first.
    pub incoming: Vec<Request>,
    /// The reader's own pending requests, newest first.
    pub outgoing: Vec<Request>,
    pub blocked: Vec<Person>,
    /// The reader's invite token, for the invite link and its QR code.
    pub invite: String,
}

/// The body of `POST /api/app/friendship` ([`crate::api::APP_FRIENDSHIP_PATH`]) is a JWT
/// (HS256, signed with the app secret) with these claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppFriendship {
    /// The two users, as the app's ids.
    pub a: UserId,
    pub b: UserId,
    /// `true` makes them friends, `false` ends the friendship.
    pub friends: bool,
    /// Unix seconds after which the request is refused (keep it short: a minute; at most
    /// [`MAX_APP_BODY_SECS`] ahead).
    pub exp: u64,
    /// Unix seconds when it was signed: a body older than one already applied to the pair is
    /// refused, and so is the same body again.
    pub iat: u64,
}

/// What an invite token says (readable by the page to show who invites; only the server can
/// check it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invite {
    /// `invite:UID`.
    pub sub: String,
    pub name: String,
    pub exp: u64,
    /// The inviter's invite generation when it was made: it works only while that lasts (a
    /// new link, a friendship of theirs ended, a block set or lifted move it on).
    #[serde(default)]
    pub epoch: u64,
}

impl Invite {
    /// The inviter's uid.
    pub fn uid(&self) -> Option<UserId> {
        self.sub.strip_prefix("invite:")?.parse().ok()
    }
}

/// The order of a friends list, the same on the server and in the page: the most recent
/// conversation first (by its last message's time); friends without messages after, by name,
/// then id.
pub fn sort_recent_first(friends: &mut [Friend]) {
    fn time(f: &Friend) -> Option<&str> {
        f.last.as_ref().map(|m| m.create_time.as_str())
    }
    friends.sort_by(|a, b| {
        time(b)
            .cmp(&time(a))
            .then_with(|| a.person.name.cmp(&b.person.name))
            .then(a.person.uid.cmp(&b.person.uid))
    });
}

/// Whether a note fits.
pub fn valid_note(note: &str) -> bool {
    note.chars().count() <= MAX_NOTE_CHARS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_friend_is_flat_json() {
        let friend = Friend {
            person: Person { uid: UserId::lit(7), name: "Li".into(), avatar: String::new() },
            conversation: ConversationId::lit(-2),
            online: true,
            last: None,
            unread: 0,
        };
        let text = serde_json::to_string(&friend).expect("json");
        assert_eq!(text, r#"{"uid":7,"name":"Li","conversation":-2,"online":true,"unread":0}"#);
        assert_eq!(serde_json::from_str::<Friend>(&text).expect("back"), friend);
    }

    #[test]
    fn invite_names_its_uid() {
        let invite = Invite { sub: "invite:42".into(), name: "Ann".into(), exp: 1, epoch: 0 };
        assert_eq!(invite.uid(), Some(UserId::lit(42)));
        assert_eq!(Invite { sub: "agent:x".into(), ..invite }.uid(), None);
        assert!(valid_note(&"字".repeat(MAX_NOTE_CHARS)) && !valid_note(&"a".repeat(MAX_NOTE_CHARS + 1)));
    }
}
