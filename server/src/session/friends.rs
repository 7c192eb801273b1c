//! Protocol v2's friend frames: requests, answers, invites, unfriending and blocks. Each
//! change is written by the store, then both users' v2 connections get their friends list
//! again, whole ([`ServerMessage::Friends`]). Agents have no friends; a v1 connection does not
//! know these frames.

use kefu_protocol::friends::{valid_note, MAX_NOTE_CHARS, MAX_REQUESTS_PER_WINDOW, REQUEST_WINDOW_SECS};
use kefu_protocol::ids::{Caller, UserId};
use kefu_protocol::v1::{ClientMessage, ErrorCode, ServerMessage};

use super::{Session, Step};
use crate::store::{FriendError, Requested, StoreError};

impl Session {
    pub(super) async fn on_friend_frame(&mut self, frame: ClientMessage) -> Step {
        if !self.v2 {
            let why = if self.is_agent() {
                "agents have no friends"
            } else {
                "friend frames need protocol kefu.v2"
            };
            return self.error(ErrorCode::UnknownType, why, None);
        }
        let Some(me) = self.user() else {
            return self.error(ErrorCode::UnknownType, "agents have no friends", None);
        };
        let store = &self.shared.store;
        let (outcome, other) = match frame {
            ClientMessage::Befriend { uid, invite: Some(invite), .. } => {
                let current = match store.invite_epoch(uid).await {
                    Ok(epoch) => epoch,
                    Err(err) => return self.unavailable(err),
                };
                if self.shared.invites.inviter(&invite) != Some((uid, current)) {
                    return self.error(
                        ErrorCode::BadInvite,
                        "this invite link is not valid (expired, replaced by a newer one, or not this user's)",
                        None,
                    );
                }
                (store.make_friends(me, uid).await.map(|_| ()), uid)
            }
            ClientMessage::Befriend { uid, note, invite: None } => {
                if !valid_note(&note) {
                    return self.error(
                        ErrorCode::Oversize,
                        format!("a note has at most {MAX_NOTE_CHARS} characters"),
                        None,
                    );
                }
                if !self.shared.friend_requests.take(&me.get()).await {
                    let message = format!(
                        "at most {MAX_REQUESTS_PER_WINDOW} friend requests per {} minutes",
                        REQUEST_WINDOW_SECS / 60
                    );
                    return self.error(ErrorCode::RateLimited, message, None);
                }
                (store.request_friend(me, uid, note.trim()).await.map(|_: Requested| ()), uid)
            }
            ClientMessage::Answer { uid, accept } => {
                (store.answer_request(me, uid, accept).await.map(|_| ()), uid)
            }
            ClientMessage::Cancel { uid } => (store.cancel_request(me, uid).await, uid),
            ClientMessage::Unfriend { uid } => (store.end_friendship(me, uid).await, uid),
            ClientMessage::Block { uid } => (store.block(me, uid).await, uid),
            ClientMessage::Unblock { uid } => (store.unblock(me, uid).await, uid),
            ClientMessage::NewInvite => (store.new_invite(me).await.map_err(FriendError::from), me),
            _ => return Ok(()),
        };
        match outcome {
            Ok(()) => {
                let changed: &[UserId] = if other == me { &[me] } else { &[me, other] };
                self.shared.friends_changed(changed).await;
                Ok(())
            }
            Err(err) => {
                let code = match &err {
                    FriendError::NotFriends => ErrorCode::NotFriends,
                    FriendError::Blocked => ErrorCode::Blocked,
                    FriendError::TooManyFriends => ErrorCode::TooManyFriends,
                    FriendError::UnknownUser | FriendError::NoRequest => ErrorCode::UnknownUser,
                    FriendError::RequestsFull => ErrorCode::TooMany,
                    FriendError::Store(err) => {
                        tracing::error!(%err, "cannot change friends");
                        ErrorCode::Unavailable
                    }
                };
                let message = match err {
                    FriendError::UnknownUser => format!("no user {other} here"),
                    FriendError::NoRequest => format!("no pending request with user {other}"),
                    err => err.to_string(),
                };
                self.error(code, message, None)
            }
        }
    }
}

impl super::Shared {
    /// `uid`'s friends list as a frame, with its invite.
    pub async fn friends_frame(&self, uid: UserId) -> Result<ServerMessage, StoreError> {
        let name = self.store.person_name(uid);
        let invite = self.invites.token(uid, &name, self.store.invite_epoch(uid).await?);
        let online = |friend| self.hub.is_online(Caller::User(friend));
        let friends = self.store.friends_snapshot(uid, online, invite).await?;
        Ok(ServerMessage::Friends(friends))
    }

    /// Sends each of `uids` (their v2 connections) their friends list again.
    pub async fn tell_friends_lists(&self, uids: &[UserId]) {
        for &uid in uids {
            if !self.hub.is_online(Caller::User(uid)) {
                continue;
            }
            match self.friends_frame(uid).await {
                Ok(frame) => self.hub.tell(&[uid], &frame, None),
                Err(err) => tracing::error!(%err, uid = uid.get(), "cannot read a friends list"),
            }
        }
    }
}
