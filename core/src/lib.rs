//! Kefu's pure logic, shared by both pages of the web app and tested natively with a fake
//! clock. Nothing here knows about the browser: this crate depends on `kefu-protocol`, serde,
//! chrono's calendar only, so "pure" is enforced by the dependency graph.
//!
//! ```text
//! connection   when to connect, heartbeat, give up and retry (state machine, fake-clock tests)
//! negotiation  which protocol to offer: kefu.v1, or the original v0
//! reachability during an outage, a plain HTTP probe before each WebSocket attempt
//! courier      gets each own message to the server exactly once: resume, resend, ack, refuse
//! outbox       own messages not yet stored (the page keeps it in browser storage)
//! timeline     one conversation as shown: entries, sender, delivery, merge by id/seq
//! user_chat    the customer-service page's model (its conversation, and friends' news)
//! friends_chat the Friends page's model (friends, requests, peer conversations: v2)
//! peers        friends, requests and peer conversations; what is new there (the badge)
//! inbox        the agent console's model (one conversation per user, unread, order)
//! team         the console's team inbox: views and counts, status and assignee, notes,
//!              canned replies, keys; team_texts: its zh / en texts
//! alerts       when a new message should alert the agent
//! config       page settings from the URL
//! i18n         zh / en UI texts
//! when         times as people read them: day headings, short and relative times
//! window       a long list's rows worth building: those on screen and a few around them
//! ```

pub mod alerts;
pub mod config;
pub mod connection;
pub mod courier;
pub mod friends_chat;
pub mod i18n;
pub mod inbox;
pub mod negotiation;
pub mod outbox;
pub mod peers;
pub mod reachability;
#[cfg(any(not(target_arch = "wasm32"), feature = "team"))]
pub mod team;
pub mod team_texts;
pub mod timeline;
pub mod user_chat;
pub mod when;
pub mod window;

#[cfg(test)]
mod fixtures;
