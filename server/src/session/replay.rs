//! The replay after `resume`, sent a step at a time while the client keeps up: the messages
//! after each position (in chunks), the latest page of conversations the client has not
//! seen, read positions, who is there, then `ready`. Live messages wait in the hub's queue
//! until the replay is done and are then sent minus those the replay already carried.

use std::collections::VecDeque;

use kefu_protocol::v1::{ConversationId, Message, Seq, ServerMessage};

use super::{Close, Session, Step};
use crate::store::StoreError;

/// Messages read from the store per step of a replay.
pub(super) const CHUNK: u32 = 100;
/// Encoded bytes of one history page at most (it is cut short, `has_more` set, past this).
pub(super) const PAGE_BYTES: usize = 256 * 1024;
/// Pages of conversations the client has not seen, read from the store in one go (then sent
/// one per step, as the client keeps up).
pub(super) const FRESH_BATCH: usize = 100;

/// What is left to send of a replay.
#[derive(Debug, Default)]
pub(super) struct Replay {
    /// Conversations the client has seen, from the position it gave (clamped to what exists).
    pub(super) after: VecDeque<(ConversationId, Seq)>,
    /// Conversations the client has not seen: their latest page, as `history`.
    pub(super) fresh: VecDeque<ConversationId>,
    /// Messages per fresh page.
    pub(super) page: u32,
    /// Fresh pages read ahead of sending: (conversation, messages, has_more).
    pub(super) pages: VecDeque<(ConversationId, Vec<Message>, bool)>,
    /// Conversations whose read positions follow, once their messages are sent.
    pub(super) replayed: Vec<ConversationId>,
    /// A gap fill, not a resume: it ends without read positions, presence or `ready`.
    pub(super) quiet: bool,
    /// An agent's: the team's frames (states, loads, canned replies), one per step.
    pub(super) team: VecDeque<String>,
}

impl Session {
    /// Sends the next step of the replay under way (and `ready` after the last one).
    pub(super) async fn replay_step(&mut self) -> Step {
        let Some(mut replay) = self.replay.take() else { return Ok(()) };
        let store = &self.shared.store;
        if let Some((conversation, seq)) = replay.after.pop_front() {
            let messages = store.after(conversation, seq, CHUNK).await.map_err(resume_failed)?;
            if messages.len() == CHUNK as usize {
                let last = messages.last().map(|m| m.seq).unwrap_or(seq);
                replay.after.push_front((conversation, last));
            }
            for message in messages {
                let seen = self.delivered.entry(conversation).or_insert(0);
                if message.seq > *seen {
                    *seen = message.seq;
                    self.queue(ServerMessage::Message(message).encode().into())?;
                }
            }
        } else if let Some((conversation, messages, has_more)) = replay.pages.pop_front() {
            // Read ahead, but nothing is missed: this connection was in the hub before the
            // read, so what was stored since is queued live, and what the page also had is
            // dropped from that queue by `delivered`.
            let seen = self.delivered.entry(conversation).or_insert(0);
            *seen = (*seen).max(messages.last().map(|m| m.seq).unwrap_or(0));
            self.queue(ServerMessage::History { conversation, messages, has_more }.encode().into())?;
        } else if let Some(frame) = replay.team.pop_front() {
            self.queue(frame.into())?;
        } else if !replay.fresh.is_empty() {
            let batch: Vec<ConversationId> =
                replay.fresh.drain(..replay.fresh.len().min(FRESH_BATCH)).collect();
            let pages = store.latest_pages(&batch, replay.page, PAGE_BYTES).await.map_err(resume_failed)?;
            replay.pages.extend(pages);
        } else {
            if !replay.quiet {
                self.finish_replay(&replay.replayed).await?;
            }
            return Ok(());
        }
        self.replay = Some(replay);
        Ok(())
    }

    /// Read positions of the conversations replayed, who is there, then `ready`.
    async fn finish_replay(&mut self, replayed: &[ConversationId]) -> Step {
        for &conversation in replayed {
            if let Some(peer) = conversation.peer() {
                for (uid, seq) in self.shared.store.member_reads(peer) {
                    if seq > 0 {
                        self.queue(ServerMessage::MemberRead { conversation, uid, seq }.encode().into())?;
                    }
                }
                continue;
            }
            let (user, agents) = self.shared.store.reads(conversation).await.map_err(resume_failed)?;
            for (agent, seq) in [(false, user), (true, agents)] {
                if seq > 0 {
                    self.queue(ServerMessage::Read { conversation, agent, seq }.encode().into())?;
                }
            }
        }
        // Who is there, as of now; changes follow live.
        if self.is_agent() {
            for (uid, name) in self.shared.hub.online_users_named() {
                let conversation = ConversationId::support(uid);
                self.queue(ServerMessage::Presence { conversation, online: true, name }.encode().into())?;
            }
        } else {
            self.queue(ServerMessage::Agents { online: self.shared.hub.agents_online() }.encode().into())?;
        }
        if let (true, Some(me)) = (self.v2, self.user()) {
            let friends = self.shared.friends_frame(me).await.map_err(resume_failed)?;
            self.queue(friends.encode().into())?;
        }
        self.queue(ServerMessage::Ready.encode().into())
    }
}

/// A replay that cannot be read would leave the client waiting for `ready`: close instead,
/// so that it reconnects and resumes again.
pub(super) fn resume_failed(err: StoreError) -> Option<Close> {
    tracing::error!(%err, "storage error during resume");
    Some(Close::StorageUnavailable)
}
