//! The team frames of an agent's connection: take, assign, status, notes, the timeline,
//! canned replies. Each change is made by the store in one turn, then every agent connection
//! (here and at the other instances) is told ([`crate::session::Shared::tell_agents`]); a
//! user's connection is never told, and a user sending one of these frames is refused
//! `agents_only`.

use std::collections::VecDeque;

use kefu_protocol::team::{valid_shortcut, Status, EVENTS_PAGE, MAX_SHORTCUT_CHARS, STATES_PER_FRAME};
use kefu_protocol::v1::{self, ClientMessage, ConversationId, ErrorCode, ServerMessage};
use kefu_protocol::{validate_text, TextError};

use super::replay::resume_failed;
use super::{Session, Step};
use crate::store::{Change, TeamError};
use crate::team::{self, now_ms};

impl Session {
    pub(super) async fn on_team_frame(&mut self, frame: ClientMessage) -> Step {
        if !self.is_agent() {
            return self.error(ErrorCode::AgentsOnly, "team frames are for agents", None);
        }
        let me = self.name.clone().unwrap_or_default();
        let now = now_ms();
        let store = &self.shared.store;
        let outcome: Result<Change, TeamError> = match frame {
            ClientMessage::Take { conversation } => {
                let Some(conversation) = self.team_conversation(conversation).await else {
                    return self.no_conversation(conversation, None);
                };
                store.take(conversation, &me, now).await
            }
            ClientMessage::Assign { conversation, to } => {
                let Some(conversation) = self.team_conversation(conversation).await else {
                    return self.no_conversation(conversation, None);
                };
                store.assign(conversation, &me, to.as_deref(), now).await
            }
            ClientMessage::SetStatus { conversation, status, until } => {
                let Some(conversation) = self.team_conversation(conversation).await else {
                    return self.no_conversation(conversation, None);
                };
                if status == Status::Snoozed && until.is_some_and(|until| until <= now) {
                    return self.error(ErrorCode::Malformed, "a snooze ends in the future", None);
                }
                store.set_status(conversation, &me, status, until, now).await
            }
            ClientMessage::Note { id, conversation, text } => return self.note(id, conversation, text).await,
            ClientMessage::Events { conversation } => {
                let Some(conversation) = self.team_conversation(conversation).await else {
                    return self.no_conversation(conversation, None);
                };
                return match store.team_events(conversation, EVENTS_PAGE).await {
                    Ok(events) => self.reply(ServerMessage::TeamEvents { conversation, events }.encode()),
                    Err(err) => self.unavailable(err),
                };
            }
            ClientMessage::SaveCanned { id, shortcut, text } => {
                if !valid_shortcut(&shortcut) {
                    let why = format!("a shortcut is 1-{MAX_SHORTCUT_CHARS} of a-z 0-9 - _");
                    return self.error(ErrorCode::BadCanned, why, None);
                }
                if validate_text(&text, self.shared.limits.max_text_utf16).is_err() {
                    return self.error(
                        ErrorCode::BadCanned,
                        "a canned reply's text is empty or too long",
                        None,
                    );
                }
                return match store.save_canned(id, &shortcut, &text).await {
                    Ok(()) => self.canned_changed().await,
                    Err(err) => self.team_refused(err),
                };
            }
            ClientMessage::DeleteCanned { id } => {
                return match store.delete_canned(id).await {
                    Ok(_) => self.canned_changed().await,
                    Err(err) => self.unavailable(err),
                };
            }
            _ => return Ok(()),
        };
        match outcome {
            Ok(change) => {
                let freed = change.state.status != Status::Open;
                self.tell_change(&change);
                if freed {
                    // A resolved or snoozed conversation makes room: the queue moves on.
                    self.hand_out_waiting(None).await;
                }
                Ok(())
            }
            Err(err) => self.team_refused(err),
        }
    }

    /// Whether this agent may use `conversation` for team frames: a support conversation
    /// that exists (the one rule, [`crate::privacy::may_use`]).
    async fn team_conversation(&self, conversation: ConversationId) -> Option<ConversationId> {
        (!conversation.is_peer() && self.addressed(Some(conversation)).await.is_ok()).then_some(conversation)
    }

    fn no_conversation(&mut self, conversation: ConversationId, id: Option<String>) -> Step {
        self.error(ErrorCode::UnknownConversation, format!("no conversation {conversation} here"), id)
    }

    async fn note(&mut self, id: String, conversation: ConversationId, text: String) -> Step {
        if !v1::valid_id(&id) {
            return self.error(ErrorCode::BadId, "id must be 1-64 characters of A-Z a-z 0-9 - _", None);
        }
        match validate_text(&text, self.shared.limits.max_text_utf16) {
            Ok(()) | Err(TextError::Reserved) => {}
            Err(TextError::Empty) => return self.error(ErrorCode::EmptyText, "note is empty", Some(id)),
            Err(TextError::TooLong(_)) => return self.error(ErrorCode::Oversize, "note too long", Some(id)),
        }
        let Some(conversation) = self.team_conversation(conversation).await else {
            return self.no_conversation(conversation, Some(id));
        };
        let me = self.name.clone().unwrap_or_default();
        match self.shared.store.add_note(conversation, &me, &id, &text, now_ms()).await {
            Ok((event, new)) => {
                if new {
                    self.shared.tell_agents(&ServerMessage::TeamEvent(event));
                }
                self.reply(ServerMessage::Noted { id, conversation }.encode())
            }
            Err(err) => {
                tracing::error!(%err, "cannot store a note");
                self.error(ErrorCode::Unavailable, "the note could not be stored; retry", Some(id))
            }
        }
    }

    fn tell_change(&self, change: &Change) {
        for frame in team::frames(change) {
            self.shared.tell_agents(&frame);
        }
    }

    /// Hands out conversations waiting for an agent, and tells everyone (the agents' loads:
    /// all but `except`, a console that has them in its replay).
    pub(super) async fn hand_out_waiting(&self, except: Option<crate::hub::ConnectionId>) {
        match self.shared.store.assign_waiting(now_ms(), team::PER_TICK).await {
            Ok(changes) => {
                for change in &changes {
                    self.tell_change(change);
                }
                self.tell_loads(if changes.is_empty() { except } else { None }).await;
            }
            Err(err) => tracing::error!(%err, "cannot hand out waiting conversations"),
        }
    }

    /// The user wrote in its conversation: it opens or reopens, and is assigned if nobody
    /// has it. A failure here leaves it as it was; the user's next message tries again.
    pub(super) async fn user_wrote(&self, conversation: ConversationId) {
        match self.shared.store.user_wrote(conversation, now_ms()).await {
            Ok(Some(change)) => {
                self.tell_change(&change);
                self.tell_loads(None).await;
            }
            Ok(None) => {}
            Err(err) => tracing::error!(%err, "cannot open a conversation for the team"),
        }
    }

    pub(super) async fn tell_loads(&self, except: Option<crate::hub::ConnectionId>) {
        match team::loads(&self.shared.store).await {
            Ok(frame) => self.shared.tell_agents_except(&frame, except),
            Err(err) => tracing::error!(%err, "cannot read the agents' loads"),
        }
    }

    async fn canned_changed(&mut self) -> Step {
        match self.shared.store.canned().await {
            Ok(replies) => {
                self.shared.tell_agents(&ServerMessage::Canned { replies });
                Ok(())
            }
            Err(err) => self.unavailable(err),
        }
    }

    fn team_refused(&mut self, err: TeamError) -> Step {
        let code = match &err {
            TeamError::Store(err) => {
                tracing::error!(%err, "team change failed");
                return self.error(ErrorCode::Unavailable, "storage is unavailable; retry", None);
            }
            TeamError::AlreadyTaken(_) => ErrorCode::AlreadyTaken,
            TeamError::NoSuchAgent(_) => ErrorCode::NoSuchAgent,
            TeamError::OverCapacity(_) => ErrorCode::OverCapacity,
            TeamError::BadCanned(_) => ErrorCode::BadCanned,
        };
        self.error(code, err.to_string(), None)
    }

    /// The team's frames for an agent's replay: every state (in frames of
    /// [`STATES_PER_FRAME`]), the agents' loads and the canned replies.
    pub(super) async fn team_replay(&self) -> Result<VecDeque<String>, Option<super::Close>> {
        let store = &self.shared.store;
        let states = store.team_states().await.map_err(resume_failed)?;
        let mut frames: VecDeque<String> = states
            .chunks(STATES_PER_FRAME)
            .map(|chunk| ServerMessage::TeamStates { states: chunk.to_vec() }.encode())
            .collect();
        frames.push_back(team::loads(store).await.map_err(resume_failed)?.encode());
        frames.push_back(
            ServerMessage::Canned { replies: store.canned().await.map_err(resume_failed)? }.encode(),
        );
        Ok(frames)
    }
}
