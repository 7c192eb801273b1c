//! The team inbox's records: each conversation's status and assignee, and its team timeline
//! (notes, status changes, assignments). Seats, loads and canned replies: [`super::seats`].
//!
//! Every change that can affect an assignment runs in one transaction that first updates the
//! single `team_turns` row: changes take turns, on one server and across instances (the row
//! stays locked until the transaction ends), so a take race has exactly one winner and an
//! auto-assignment counts loads nobody else is changing. Who is chosen is decided by
//! [`crate::assignment`], from the facts read here.

use kefu_protocol::ids::ConversationId;
use kefu_protocol::team::{EventKind, Status, TeamEvent, TeamState};

use super::{begin_write, with_pool, Db, Store, StoreError};
use crate::assignment::{self, Candidate};

/// What one team change did: the conversation's state now and the timeline entries it made
/// (none when nothing changed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub state: TeamState,
    pub events: Vec<TeamEvent>,
}

/// Why a team change was refused.
#[derive(Debug, thiserror::Error)]
pub enum TeamError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0} has this conversation")]
    AlreadyTaken(String),
    #[error("no agent named {0}")]
    NoSuchAgent(String),
    #[error("{0} has as many open conversations as their capacity")]
    OverCapacity(String),
    #[error("{0}")]
    BadCanned(String),
}

impl From<sqlx::Error> for TeamError {
    fn from(err: sqlx::Error) -> Self {
        TeamError::Store(err.into())
    }
}

/// A team event row: event, conversation, kind, by, to, text, client id, after seq, at.
type EventRow = (i64, i64, String, Option<String>, Option<String>, String, Option<String>, i64, i64);

fn event_from(row: EventRow) -> Option<TeamEvent> {
    let (event, conversation, kind, by, to, text, id, after, at) = row;
    Some(TeamEvent {
        conversation: ConversationId::new(conversation)?,
        event,
        kind: EventKind::from_wire(&kind)?,
        by,
        to,
        text,
        id,
        after: after.max(0) as u64,
        at,
    })
}

/// A state row: status, assignee, snoozed until.
type StateRow = (String, Option<String>, Option<i64>);

fn state_from(conversation: ConversationId, row: Option<StateRow>) -> TeamState {
    match row {
        Some((status, assignee, until)) => TeamState {
            conversation,
            status: Status::from_wire(&status).unwrap_or(Status::Open),
            assignee,
            until,
        },
        None => TeamState { conversation, status: Status::Open, assignee: None, until: None },
    }
}

const TURN: &str = "UPDATE team_turns SET turns = turns + 1 WHERE id = 1";
const STATE: &str = "SELECT status, assignee, snooze_until FROM team_conversations WHERE conversation = $1";
const PUT_STATE: &str =
    "INSERT INTO team_conversations (conversation, status, assignee, snooze_until, opened_at) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (conversation) DO UPDATE SET status = excluded.status, \
     assignee = excluded.assignee, snooze_until = excluded.snooze_until, declined_by = NULL, \
     opened_at = CASE WHEN excluded.status = 'open' AND team_conversations.status <> 'open' \
     THEN excluded.opened_at ELSE team_conversations.opened_at END";
const EVENT: &str = "INSERT INTO team_events (conversation, kind, by_agent, to_agent, text, client_id, after_seq, at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (conversation, client_id) DO NOTHING RETURNING event";
const EVENT_COLUMNS: &str = "event, conversation, kind, by_agent, to_agent, text, client_id, after_seq, at";
const SEATED: &str = "SELECT name FROM agent_seats WHERE name = $1 AND expires_at > $2 LIMIT 1";
const CANDIDATES: &str = "SELECT a.name, a.capacity, a.last_assigned_at, \
     (SELECT COUNT(*) FROM team_conversations t WHERE t.assignee = a.name AND t.status = 'open') \
     FROM agents a WHERE EXISTS (SELECT 1 FROM agent_seats s WHERE s.name = a.name AND s.expires_at > $1)";
const OLDEST_WAITING: &str = "SELECT conversation, declined_by FROM team_conversations \
     WHERE status = 'open' AND assignee IS NULL ORDER BY opened_at, conversation LIMIT $1";
const OPEN_OF: &str = "SELECT COUNT(*) FROM team_conversations WHERE assignee = $1 AND status = 'open'";
const CAPACITY: &str = "SELECT capacity FROM agents WHERE name = $1";

/// Runs one team transaction on `$db`: `$body` with `$tx` (after taking the turn), committed
/// when it returns `Ok`, rolled back when it returns `Err`.
macro_rules! team_turn {
    ($db:expr, $tx:ident => $body:expr) => {
        with_pool!($db, pool => {
            let mut $tx = pool.begin_with(begin_write($db)).await?;
            sqlx::query(TURN).execute(&mut *$tx).await?;
            let result = $body;
            if result.is_ok() {
                $tx.commit().await?;
            } else {
                $tx.rollback().await?;
            }
            result
        })
    };
}

/// Writes one event in `$tx`; its number (`None`: a note already stored under that id).
macro_rules! add_event {
    ($tx:expr, $event:expr, $client_id:expr) => {{
        let event: &TeamEvent = $event;
        let row: Option<(i64,)> = sqlx::query_as(EVENT)
            .bind(event.conversation.get())
            .bind(event.kind.as_str())
            .bind(&event.by)
            .bind(&event.to)
            .bind(&event.text)
            .bind($client_id)
            .bind(event.after as i64)
            .bind(event.at)
            .fetch_optional(&mut *$tx)
            .await?;
        row.map(|(n,)| n)
    }};
}

/// Saves `$state` in `$tx` (`$now`: when it opened, if it opens now).
macro_rules! put_state {
    ($tx:expr, $state:expr, $now:expr) => {{
        let state: &TeamState = $state;
        sqlx::query(PUT_STATE)
            .bind(state.conversation.get())
            .bind(state.status.as_str())
            .bind(&state.assignee)
            .bind(state.until)
            .bind($now)
            .execute(&mut *$tx)
            .await?;
    }};
}

/// In `$tx`: reopens `$state` (back to its assignee while that agent has a seat, by
/// [`assignment::reopen_to`]) with an event of `$kind`, pushed to `$events`.
macro_rules! reopen {
    ($tx:expr, $state:expr, $events:expr, $kind:expr, $after:expr, $now:expr) => {{
        let state: &mut TeamState = $state;
        let seated: Option<(String,)> = match &state.assignee {
            Some(name) => sqlx::query_as(SEATED).bind(name).bind($now).fetch_optional(&mut *$tx).await?,
            None => None,
        };
        *state = TeamState {
            conversation: state.conversation,
            status: Status::Open,
            assignee: assignment::reopen_to(state.assignee.take(), seated.is_some()),
            until: None,
        };
        put_state!($tx, &*state, $now);
        let mut reopened = event(state.conversation, $kind, None, $after, $now);
        reopened.event = add_event!($tx, &reopened, None::<String>).unwrap_or_default();
        $events.push(reopened);
    }};
}

/// In `$tx`: gives open unassigned `$state` to the agent [`assignment::pick`] chooses among
/// the signed-in ones (except `$except`), recording it in `$events`.
macro_rules! auto_assign {
    ($tx:expr, $state:expr, $events:expr, $except:expr, $after:expr, $now:expr) => {{
        let state: &mut TeamState = $state;
        if state.status == Status::Open && state.assignee.is_none() {
            let rows: Vec<(String, i64, i64, i64)> =
                sqlx::query_as(CANDIDATES).bind($now).fetch_all(&mut *$tx).await?;
            let except: Option<&str> = $except;
            let candidates: Vec<Candidate> = rows
                .into_iter()
                .filter(|(name, ..)| Some(name.as_str()) != except)
                .map(|(name, capacity, last_assigned_at, open)| Candidate {
                    name,
                    open: open.clamp(0, u32::MAX as i64) as u32,
                    capacity: capacity.clamp(0, u32::MAX as i64) as u32,
                    last_assigned_at,
                })
                .collect();
            if let Some(chosen) = assignment::pick(&candidates) {
                state.assignee = Some(chosen.name.clone());
                put_state!($tx, &*state, $now);
                sqlx::query("UPDATE agents SET last_assigned_at = $2 WHERE name = $1")
                    .bind(&chosen.name)
                    .bind($now)
                    .execute(&mut *$tx)
                    .await?;
                let mut event = TeamEvent {
                    conversation: state.conversation,
                    event: 0,
                    kind: EventKind::Assigned,
                    by: None,
                    to: Some(chosen.name.clone()),
                    text: String::new(),
                    id: None,
                    after: $after,
                    at: $now,
                };
                event.event = add_event!($tx, &event, None::<String>).unwrap_or_default();
                $events.push(event);
            }
        }
    }};
}

/// A status or assignment event by the server or an agent (not a note).
fn event(conversation: ConversationId, kind: EventKind, by: Option<&str>, after: u64, now: i64) -> TeamEvent {
    TeamEvent {
        conversation,
        event: 0,
        kind,
        by: by.map(str::to_owned),
        to: None,
        text: String::new(),
        id: None,
        after,
        at: now,
    }
}

impl Store {
    /// Every conversation's team state that has one.
    pub async fn team_states(&self) -> Result<Vec<TeamState>, StoreError> {
        const ALL: &str =
            "SELECT conversation, status, assignee, snooze_until FROM team_conversations ORDER BY conversation";
        let rows: Vec<(i64, String, Option<String>, Option<i64>)> =
            with_pool!(&self.db, pool => sqlx::query_as(ALL).fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .filter_map(|(c, status, assignee, until)| {
                Some(state_from(ConversationId::new(c)?, Some((status, assignee, until))))
            })
            .collect())
    }

    pub async fn team_state(&self, conversation: ConversationId) -> Result<TeamState, StoreError> {
        let row: Option<StateRow> = with_pool!(&self.db, pool => {
            sqlx::query_as(STATE).bind(conversation.get()).fetch_optional(pool).await?
        });
        Ok(state_from(conversation, row))
    }

    /// The conversation's last message, where a team event made now is shown.
    fn after_now(&self, conversation: ConversationId) -> u64 {
        self.positions().last_seq.get(&conversation).copied().unwrap_or(0)
    }

    /// The user wrote in `conversation`: a new one opens, a resolved or snoozed one reopens
    /// (back to its assignee while signed in), and an unassigned one is auto-assigned.
    /// `None`: it was open and assigned already (the common case: one read, no write).
    pub async fn user_wrote(
        &self,
        conversation: ConversationId,
        now: i64,
    ) -> Result<Option<Change>, StoreError> {
        let current = self.team_state(conversation).await?;
        if current.status == Status::Open && current.assignee.is_some() {
            return Ok(None);
        }
        let after = self.after_now(conversation);
        let db = &self.db;
        let change: Result<Option<Change>, TeamError> = team_turn!(db, tx => {
            async {
                let row: Option<StateRow> = sqlx::query_as(STATE).bind(conversation.get()).fetch_optional(&mut *tx).await?;
                let existed = row.is_some();
                let mut state = state_from(conversation, row);
                let mut events = vec![];
                if state.status != Status::Open {
                    reopen!(tx, &mut state, events, EventKind::ReopenedByMessage, after, now);
                } else if !existed {
                    put_state!(tx, &state, now);
                }
                auto_assign!(tx, &mut state, events, None, after, now);
                Ok::<_, TeamError>(Some(Change { state, events }))
            }
            .await
        });
        change.map_err(store_error)
    }

    /// Hands waiting conversations (open, unassigned), oldest first, to signed-in agents with
    /// room (never back to the agent who gave one back), until none waits or nobody has room;
    /// at most `limit` in one call.
    pub async fn assign_waiting(&self, now: i64, limit: usize) -> Result<Vec<Change>, StoreError> {
        let waiting: Vec<(i64, Option<String>)> = with_pool!(&self.db, pool => {
            sqlx::query_as(OLDEST_WAITING).bind(limit as i64).fetch_all(pool).await?
        });
        let mut changes = vec![];
        for (conversation, declined) in waiting {
            let Some(conversation) = ConversationId::new(conversation) else { continue };
            let after = self.after_now(conversation);
            let db = &self.db;
            let change: Result<Option<Change>, TeamError> = team_turn!(db, tx => {
                async {
                    let row: Option<StateRow> = sqlx::query_as(STATE).bind(conversation.get()).fetch_optional(&mut *tx).await?;
                    let mut state = state_from(conversation, row);
                    let mut events = vec![];
                    auto_assign!(tx, &mut state, events, declined.as_deref(), after, now);
                    Ok::<_, TeamError>((!events.is_empty()).then_some(Change { state, events }))
                }
                .await
            });
            match change.map_err(store_error)? {
                Some(change) => changes.push(change),
                // Only the agent who gave it back has room: the next one may go elsewhere.
                None if declined.is_some() => {}
                // Nobody has room (or another instance took it first).
                None => break,
            }
        }
        Ok(changes)
    }

    /// Agent `me` takes `conversation` if nobody has it.
    pub async fn take(&self, conversation: ConversationId, me: &str, now: i64) -> Result<Change, TeamError> {
        let after = self.after_now(conversation);
        let db = &self.db;
        team_turn!(db, tx => {
            async {
                let row: Option<StateRow> = sqlx::query_as(STATE).bind(conversation.get()).fetch_optional(&mut *tx).await?;
                let mut state = state_from(conversation, row);
                match state.assignee.as_deref() {
                    Some(other) if other != me => return Err(TeamError::AlreadyTaken(other.to_owned())),
                    Some(_) => return Ok(Change { state, events: vec![] }),
                    None => {}
                }
                state.assignee = Some(me.to_owned());
                put_state!(tx, &state, now);
                let mut taken = event(conversation, EventKind::Assigned, Some(me), after, now);
                taken.to = Some(me.to_owned());
                taken.event = add_event!(tx, &taken, None::<String>).unwrap_or_default();
                Ok(Change { state, events: vec![taken] })
            }
            .await
        })
    }

    /// Agent `by` hands `conversation` to `to` (within `to`'s capacity), or gives it back
    /// (`None`: then it goes to someone else if anyone has room).
    pub async fn assign(
        &self,
        conversation: ConversationId,
        by: &str,
        to: Option<&str>,
        now: i64,
    ) -> Result<Change, TeamError> {
        let after = self.after_now(conversation);
        let db = &self.db;
        team_turn!(db, tx => {
            async {
                let row: Option<StateRow> = sqlx::query_as(STATE).bind(conversation.get()).fetch_optional(&mut *tx).await?;
                let mut state = state_from(conversation, row);
                if state.assignee.as_deref() == to {
                    return Ok(Change { state, events: vec![] });
                }
                let mut events = vec![];
                match to {
                    Some(name) => {
                        let capacity: Option<(i64,)> = sqlx::query_as(CAPACITY).bind(name).fetch_optional(&mut *tx).await?;
                        let Some((capacity,)) = capacity else { return Err(TeamError::NoSuchAgent(name.to_owned())) };
                        let (open,): (i64,) = sqlx::query_as(OPEN_OF).bind(name).fetch_one(&mut *tx).await?;
                        if state.status == Status::Open && open >= capacity {
                            return Err(TeamError::OverCapacity(name.to_owned()));
                        }
                        state.assignee = Some(name.to_owned());
                        put_state!(tx, &state, now);
                        let mut given = event(conversation, EventKind::Assigned, Some(by), after, now);
                        given.to = Some(name.to_owned());
                        given.event = add_event!(tx, &given, None::<String>).unwrap_or_default();
                        events.push(given);
                    }
                    None => {
                        state.assignee = None;
                        put_state!(tx, &state, now);
                        // Auto-assignment will not hand it back to the one who gave it back.
                        sqlx::query("UPDATE team_conversations SET declined_by = $2 WHERE conversation = $1")
                            .bind(conversation.get())
                            .bind(by)
                            .execute(&mut *tx)
                            .await?;
                        let mut back = event(conversation, EventKind::Unassigned, Some(by), after, now);
                        back.event = add_event!(tx, &back, None::<String>).unwrap_or_default();
                        events.push(back);
                        auto_assign!(tx, &mut state, events, Some(by), after, now);
                    }
                }
                Ok(Change { state, events })
            }
            .await
        })
    }

    /// Agent `by` opens, snoozes (until `until`, or until the user writes) or resolves
    /// `conversation`.
    pub async fn set_status(
        &self,
        conversation: ConversationId,
        by: &str,
        status: Status,
        until: Option<i64>,
        now: i64,
    ) -> Result<Change, TeamError> {
        let after = self.after_now(conversation);
        let db = &self.db;
        team_turn!(db, tx => {
            async {
                let row: Option<StateRow> = sqlx::query_as(STATE).bind(conversation.get()).fetch_optional(&mut *tx).await?;
                let mut state = state_from(conversation, row);
                let until = if status == Status::Snoozed { until } else { None };
                if state.status == status && state.until == until {
                    return Ok(Change { state, events: vec![] });
                }
                state.status = status;
                state.until = until;
                put_state!(tx, &state, now);
                let kind = match status {
                    Status::Open => EventKind::Reopened,
                    Status::Snoozed => EventKind::Snoozed,
                    Status::Resolved => EventKind::Resolved,
                };
                let mut changed = event(conversation, kind, Some(by), after, now);
                changed.event = add_event!(tx, &changed, None::<String>).unwrap_or_default();
                let mut events = vec![changed];
                auto_assign!(tx, &mut state, events, None, after, now);
                Ok(Change { state, events })
            }
            .await
        })
    }

    /// Reopens the snoozed conversations whose time has come (at most `limit`).
    pub async fn wake_snoozed(&self, now: i64, limit: usize) -> Result<Vec<Change>, StoreError> {
        const DUE: &str = "SELECT conversation FROM team_conversations \
             WHERE status = 'snoozed' AND snooze_until IS NOT NULL AND snooze_until <= $1 \
             ORDER BY snooze_until LIMIT $2";
        let due: Vec<(i64,)> = with_pool!(&self.db, pool => {
            sqlx::query_as(DUE).bind(now).bind(limit as i64).fetch_all(pool).await?
        });
        let mut changes = vec![];
        for conversation in due.into_iter().filter_map(|(c,)| ConversationId::new(c)) {
            let after = self.after_now(conversation);
            let db = &self.db;
            let change: Result<Option<Change>, TeamError> = team_turn!(db, tx => {
                async {
                    let row: Option<StateRow> = sqlx::query_as(STATE).bind(conversation.get()).fetch_optional(&mut *tx).await?;
                    let state = state_from(conversation, row);
                    // Another instance woke it first, or an agent changed it since.
                    if state.status != Status::Snoozed || state.until.is_none_or(|until| until > now) {
                        return Ok(None);
                    }
                    let (mut state, mut events) = (state, vec![]);
                    reopen!(tx, &mut state, events, EventKind::ReopenedByTime, after, now);
                    auto_assign!(tx, &mut state, events, None, after, now);
                    Ok::<_, TeamError>(Some(Change { state, events }))
                }
                .await
            });
            changes.extend(change.map_err(store_error)?);
        }
        Ok(changes)
    }

    /// Stores agent `by`'s private note `client_id` in `conversation` once: the event, and
    /// whether it is new (a repeat of an id gives the one stored).
    pub async fn add_note(
        &self,
        conversation: ConversationId,
        by: &str,
        client_id: &str,
        text: &str,
        now: i64,
    ) -> Result<(TeamEvent, bool), StoreError> {
        let mut note = event(conversation, EventKind::Note, Some(by), self.after_now(conversation), now);
        note.text = text.to_owned();
        note.id = Some(client_id.to_owned());
        let stored = with_pool!(&self.db, pool => {
            let mut tx = pool.begin().await?;
            let stored = add_event!(tx, &note, Some(client_id));
            tx.commit().await?;
            stored
        });
        match stored {
            Some(number) => {
                note.event = number;
                Ok((note, true))
            }
            None => {
                let query = format!(
                    "SELECT {EVENT_COLUMNS} FROM team_events WHERE conversation = $1 AND client_id = $2"
                );
                let row: EventRow = with_pool!(&self.db, pool => {
                    sqlx::query_as(&query).bind(conversation.get()).bind(client_id).fetch_one(pool).await?
                });
                Ok((event_from(row).unwrap_or(note), false))
            }
        }
    }

    /// The latest team events of `conversation` (at most `limit`), oldest first.
    pub async fn team_events(
        &self,
        conversation: ConversationId,
        limit: usize,
    ) -> Result<Vec<TeamEvent>, StoreError> {
        let query = format!(
            "SELECT {EVENT_COLUMNS} FROM team_events WHERE conversation = $1 ORDER BY event DESC LIMIT $2"
        );
        let rows: Vec<EventRow> = with_pool!(&self.db, pool => {
            sqlx::query_as(&query).bind(conversation.get()).bind(limit as i64).fetch_all(pool).await?
        });
        let mut events: Vec<TeamEvent> = rows.into_iter().filter_map(event_from).collect();
        events.reverse();
        Ok(events)
    }
}

fn store_error(err: TeamError) -> StoreError {
    match err {
        TeamError::Store(err) => err,
        other => StoreError::Database(sqlx::Error::Protocol(other.to_string())),
    }
}
