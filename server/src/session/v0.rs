//! The original protocol: plain-text frames, a chat text is a message, replies have no
//! addressee (an agent's v0 message goes to every online user, one stored copy each).

use kefu_protocol::v1::ConversationId;
use kefu_protocol::{notice, validate_text, TextError};

use super::{Session, Step};

impl Session {
    pub(super) async fn on_v0(&mut self, text: &str) -> Step {
        match validate_text(text, self.shared.limits.max_text_utf16) {
            Ok(()) | Err(TextError::Reserved) => {}
            Err(TextError::Empty) => return self.reply(notice::empty_text()),
            Err(TextError::TooLong(len)) => {
                return self.reply(notice::text_too_long(len, self.shared.limits.max_text_utf16))
            }
        }
        if !self.allow(text.len()).await {
            return self.reply(notice::rate_limited());
        }
        let conversations: Vec<ConversationId> = match self.user() {
            None => self.shared.hub.online_users().into_iter().map(ConversationId::support).collect(),
            Some(me) => vec![ConversationId::support(me)],
        };
        if conversations.is_empty() {
            return self.reply(notice::nobody_online());
        }
        for (index, conversation) in conversations.into_iter().enumerate() {
            self.v0_counter += 1;
            let id = format!("v0-{}-{}-{}", self.uid().unsigned_abs(), self.started, self.v0_counter);
            let new = self.new_message(conversation, id, text);
            let shared = &self.shared;
            // The first copy is the one v0 agents see; the other copies would repeat it.
            let stored = shared.store.append(new, |message| shared.deliver(message, None, index == 0));
            match stored.await {
                Err(err) => {
                    tracing::error!(%err, "cannot store a message");
                    return self.reply(notice::unavailable());
                }
                Ok(crate::store::Appended::New(_)) if self.user().is_some() => {
                    self.user_wrote(conversation).await
                }
                Ok(_) => {}
            }
        }
        Ok(())
    }
}
