//! Who may use which conversation: the one rule, over typed ids ([`kefu_protocol::ids`]),
//! pure so that it is tested over the whole id space. The session gathers the facts (a peer
//! conversation's members, whether a support conversation exists) and asks here.

use kefu_protocol::ids::{Caller, ConversationId, ConversationKind, UserId};

/// What the server knows of a conversation when a frame names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    /// A peer conversation's two members (`None`: no such pair).
    pub members: Option<(UserId, UserId)>,
    /// A support conversation exists: its user is connected, or it holds a message.
    pub exists: bool,
}

/// Whether `caller` (speaking v2 or not) may read, page, resume, mark read or type into
/// `conversation` (`docs/protocol.md`, "Conversations" and "Rules a backend must keep"):
/// - a user: its own support conversation; with v2, the peer conversations it is a member of;
/// - the agents: any support conversation that exists; never a peer one.
///
/// Writing to a peer conversation also needs the friendship (checked by the session).
pub fn may_use(caller: Caller, v2: bool, conversation: ConversationId, facts: Facts) -> bool {
    match (caller, conversation.kind()) {
        (Caller::User(me), ConversationKind::Support(owner)) => owner == me,
        (Caller::User(me), ConversationKind::Peer(_)) => {
            v2 && facts.members.is_some_and(|(a, b)| a == me || b == me)
        }
        (Caller::Agent, ConversationKind::Support(_)) => facts.exists,
        (Caller::Agent, ConversationKind::Peer(_)) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The documented rule, restated on raw numbers (the endpoint's and the frame's), as a
    /// client written from `docs/protocol.md` would read it.
    fn documented(
        endpoint: i64,
        v2: bool,
        conversation: i64,
        members: Option<(i64, i64)>,
        exists: bool,
    ) -> bool {
        const MAX: i64 = (1 << 53) - 1;
        let user = (0..=MAX).contains(&endpoint);
        let agent = endpoint == -1;
        let support = (0..=MAX).contains(&conversation);
        let peer = (-MAX..=-2).contains(&conversation);
        (user && support && conversation == endpoint)
            || (user && peer && v2 && members.is_some_and(|(a, b)| a == endpoint || b == endpoint))
            || (agent && support && exists)
    }

    /// Numbers near every edge of the ranges, and any number at all.
    fn number() -> impl Strategy<Value = i64> {
        const MAX: i64 = (1 << 53) - 1;
        prop_oneof![
            Just(-1i64),
            Just(-2),
            Just(0),
            Just(1),
            Just(MAX),
            Just(MAX + 1),
            Just(-MAX),
            Just(-MAX - 1),
            Just(i64::MIN),
            Just(i64::MAX),
            -5i64..5,
            any::<i64>()
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]

        /// Any endpoint number × any conversation number × any facts: a frame gets through
        /// only where the documented rule says so. Numbers outside the ranges never make a
        /// caller (the upgrade refuses them) nor a conversation (the frame is malformed).
        #[test]
        fn only_the_documented_rule_lets_a_frame_through(
            endpoint in number(), conversation in number(), v2 in any::<bool>(), exists in any::<bool>(),
            members in proptest::option::of((number(), number())), member_is_endpoint in any::<bool>(),
        ) {
            // Half the time the endpoint is one of the members, so that membership is exercised.
            let members = members.map(|(a, b)| if member_is_endpoint { (endpoint, b) } else { (a, b) });
            let typed_members = members.and_then(|(a, b)| Some((UserId::new(a)?, UserId::new(b)?)));
            let raw_members = typed_members.map(|(a, b)| (a.get(), b.get()));
            let allowed = match (Caller::from_raw(endpoint), ConversationId::new(conversation)) {
                (Some(caller), Some(id)) => may_use(caller, v2, id, Facts { members: typed_members, exists }),
                _ => false,
            };
            prop_assert_eq!(allowed, documented(endpoint, v2, conversation, raw_members, exists));
        }
    }

    #[test]
    fn the_breach_that_was_a_user_numbered_like_a_peer_conversation() {
        // `/webSocket/-2` names nobody, so no session can ask about conversation -2 as "its own".
        assert_eq!(Caller::from_raw(-2), None);
        let ann = UserId::lit(7);
        let peer = ConversationId::lit(-2);
        let facts = Facts { members: Some((ann, UserId::lit(8))), exists: true };
        assert!(may_use(Caller::User(ann), true, peer, facts));
        assert!(!may_use(Caller::User(ann), false, peer, facts), "a v1 connection does not know peer chat");
        assert!(!may_use(Caller::User(UserId::lit(9)), true, peer, facts), "not a member");
        assert!(!may_use(Caller::Agent, true, peer, facts), "agents never see peer conversations");
    }
}
