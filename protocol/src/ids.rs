//! The kinds of id, each its own type with its own range, so that one can never be taken for
//! another (a user id for a peer conversation, say). Every value is checked where it enters:
//! decoding a frame or an `/api` body, parsing the endpoint's path, reading the store.
//!
//! | kind | type | range |
//! |---|---|---|
//! | a user (app user or guest) | [`UserId`] | `0 ..= MAX_ID` |
//! | the agents (endpoint only) | [`Caller::Agent`] | `-1` |
//! | a user's conversation with customer service | [`ConversationId`], [`ConversationKind::Support`] | its user's id, `0 ..= MAX_ID` |
//! | a conversation between two users | [`PeerConversationId`] | `-2 ..= -MAX_ID` |
//!
//! `MAX_ID` is 2^53 − 1, so that every id is carried exactly by a JavaScript number.

use serde::{Deserialize, Serialize};

/// The largest id of any kind, in absolute value: 2^53 − 1.
pub const MAX_ID: i64 = (1 << 53) - 1;

/// An id outside the documented range of its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOfRange {
    pub kind: &'static str,
    pub value: i64,
}

impl std::fmt::Display for OutOfRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} is not a valid {} id", self.value, self.kind)
    }
}

impl std::error::Error for OutOfRange {}

/// A user of the user pages (an embedding app's user or a guest): `0 ..= MAX_ID`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct UserId(i64);

impl UserId {
    pub const fn new(raw: i64) -> Option<UserId> {
        if raw >= 0 && raw <= MAX_ID {
            Some(UserId(raw))
        } else {
            None
        }
    }

    pub const fn get(self) -> i64 {
        self.0
    }

    /// A user id written in the code (a constant, a test): panics outside the range.
    pub const fn lit(raw: i64) -> UserId {
        match UserId::new(raw) {
            Some(id) => id,
            None => panic!("not a user id"),
        }
    }
}

impl TryFrom<i64> for UserId {
    type Error = OutOfRange;
    fn try_from(raw: i64) -> Result<UserId, OutOfRange> {
        UserId::new(raw).ok_or(OutOfRange { kind: "user", value: raw })
    }
}

impl From<UserId> for i64 {
    fn from(id: UserId) -> i64 {
        id.0
    }
}

impl std::fmt::Display for UserId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for UserId {
    type Err = ();
    fn from_str(s: &str) -> Result<UserId, ()> {
        s.parse::<i64>().ok().and_then(UserId::new).ok_or(())
    }
}

/// A conversation between two users: `-2 ..= -MAX_ID`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct PeerConversationId(i64);

impl PeerConversationId {
    /// The first peer conversation's number.
    pub const FIRST: PeerConversationId = PeerConversationId(-2);

    pub const fn new(raw: i64) -> Option<PeerConversationId> {
        if raw <= -2 && raw >= -MAX_ID {
            Some(PeerConversationId(raw))
        } else {
            None
        }
    }

    pub const fn get(self) -> i64 {
        self.0
    }

    /// A peer conversation id written in the code (a constant, a test): panics outside the range.
    pub const fn lit(raw: i64) -> PeerConversationId {
        match PeerConversationId::new(raw) {
            Some(id) => id,
            None => panic!("not a peer conversation id"),
        }
    }

    /// The conversation numbered after this one (-2, -3, …), if any is left.
    pub fn next(self) -> Option<PeerConversationId> {
        PeerConversationId::new(self.0.checked_sub(1)?)
    }
}

impl TryFrom<i64> for PeerConversationId {
    type Error = OutOfRange;
    fn try_from(raw: i64) -> Result<PeerConversationId, OutOfRange> {
        PeerConversationId::new(raw).ok_or(OutOfRange { kind: "peer conversation", value: raw })
    }
}

impl From<PeerConversationId> for i64 {
    fn from(id: PeerConversationId) -> i64 {
        id.0
    }
}

/// Any conversation, as frames name it: a user's conversation with customer service (its
/// user's id) or a peer conversation (below -1). `-1`, the agents' endpoint, names none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct ConversationId(i64);

/// What a [`ConversationId`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConversationKind {
    Support(UserId),
    Peer(PeerConversationId),
}

impl ConversationId {
    pub fn new(raw: i64) -> Option<ConversationId> {
        match (UserId::new(raw), PeerConversationId::new(raw)) {
            (None, None) => None,
            _ => Some(ConversationId(raw)),
        }
    }

    /// A conversation id written in the code (a constant, a test): panics outside the range.
    pub const fn lit(raw: i64) -> ConversationId {
        if UserId::new(raw).is_none() && PeerConversationId::new(raw).is_none() {
            panic!("not a conversation id");
        }
        ConversationId(raw)
    }

    /// A user's conversation with customer service.
    pub const fn support(user: UserId) -> ConversationId {
        ConversationId(user.0)
    }

    pub const fn get(self) -> i64 {
        self.0
    }

    pub fn kind(self) -> ConversationKind {
        match PeerConversationId::new(self.0) {
            Some(peer) => ConversationKind::Peer(peer),
            None => ConversationKind::Support(UserId(self.0)),
        }
    }

    pub fn is_peer(self) -> bool {
        matches!(self.kind(), ConversationKind::Peer(_))
    }

    /// The user whose conversation with customer service this is (`None`: a peer one).
    pub fn support_user(self) -> Option<UserId> {
        match self.kind() {
            ConversationKind::Support(user) => Some(user),
            ConversationKind::Peer(_) => None,
        }
    }

    pub fn peer(self) -> Option<PeerConversationId> {
        match self.kind() {
            ConversationKind::Peer(peer) => Some(peer),
            ConversationKind::Support(_) => None,
        }
    }
}

impl From<PeerConversationId> for ConversationId {
    fn from(peer: PeerConversationId) -> ConversationId {
        ConversationId(peer.0)
    }
}

impl TryFrom<i64> for ConversationId {
    type Error = OutOfRange;
    fn try_from(raw: i64) -> Result<ConversationId, OutOfRange> {
        ConversationId::new(raw).ok_or(OutOfRange { kind: "conversation", value: raw })
    }
}

impl From<ConversationId> for i64 {
    fn from(id: ConversationId) -> i64 {
        id.0
    }
}

impl std::fmt::Display for ConversationId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Who a WebSocket endpoint path (`/webSocket/{id}`) says is connecting: the agents (`-1`)
/// or a user. Every other number (below -1, or past [`MAX_ID`]) names nobody.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Caller {
    Agent,
    User(UserId),
}

impl Caller {
    /// Reads the endpoint's path segment.
    pub fn parse(segment: &str) -> Option<Caller> {
        Caller::from_raw(segment.parse::<i64>().ok()?)
    }

    pub fn from_raw(raw: i64) -> Option<Caller> {
        if raw == crate::AGENT_UID {
            Some(Caller::Agent)
        } else {
            UserId::new(raw).map(Caller::User)
        }
    }

    /// The number in the endpoint's path.
    pub fn raw(self) -> i64 {
        match self {
            Caller::Agent => crate::AGENT_UID,
            Caller::User(user) => user.get(),
        }
    }

    pub fn user(self) -> Option<UserId> {
        match self {
            Caller::Agent => None,
            Caller::User(user) => Some(user),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_ranges_at_their_edges() {
        assert_eq!(UserId::new(0).map(UserId::get), Some(0));
        assert_eq!(UserId::new(MAX_ID).map(UserId::get), Some(MAX_ID));
        assert_eq!(UserId::new(-1), None);
        assert_eq!(UserId::new(MAX_ID + 1), None);
        assert_eq!(PeerConversationId::new(-1), None);
        assert_eq!(PeerConversationId::new(-2), Some(PeerConversationId::FIRST));
        assert_eq!(PeerConversationId::new(-MAX_ID - 1), None);
        assert_eq!(ConversationId::new(-1), None);
        assert_eq!(Caller::parse("-1"), Some(Caller::Agent));
        assert_eq!(Caller::parse("-2"), None);
        assert_eq!(Caller::parse("9007199254740992"), None);
        assert_eq!(Caller::parse("abc"), None);
        assert_eq!(serde_json::from_str::<ConversationId>("-1").ok(), None);
        assert_eq!(serde_json::from_str::<UserId>("-2").ok(), None);
        assert_eq!(
            serde_json::from_str::<ConversationId>("-2").map(ConversationId::is_peer).ok(),
            Some(true)
        );
    }

    proptest! {
        /// Over the whole i64 space: an id is of at most one kind, and a user's conversation
        /// is never a peer one.
        #[test]
        fn no_number_is_two_kinds(raw in any::<i64>()) {
            let user = UserId::new(raw);
            let peer = PeerConversationId::new(raw);
            prop_assert!(user.is_none() || peer.is_none());
            match ConversationId::new(raw) {
                None => prop_assert!(user.is_none() && peer.is_none()),
                Some(conversation) => match conversation.kind() {
                    ConversationKind::Support(u) => prop_assert_eq!(Some(u), user),
                    ConversationKind::Peer(p) => prop_assert_eq!(Some(p), peer),
                },
            }
            if let Some(caller) = Caller::from_raw(raw) {
                prop_assert_eq!(caller.raw(), raw);
                prop_assert!(caller.user().is_none_or(|u| ConversationId::support(u).peer().is_none()));
            }
            let json = raw.to_string();
            prop_assert_eq!(serde_json::from_str::<UserId>(&json).ok(), user);
            prop_assert_eq!(serde_json::from_str::<PeerConversationId>(&json).ok(), peer);
        }
    }
}
