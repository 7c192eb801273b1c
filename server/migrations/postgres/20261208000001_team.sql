-- The team inbox. Each customer-service conversation's status and assignee (a conversation
-- without a row is open and unassigned; a user's message gives it one).
CREATE TABLE team_conversations (
    conversation BIGINT PRIMARY KEY NOT NULL,
    status       TEXT    NOT NULL,            -- open | snoozed | resolved
    assignee     TEXT,                        -- an agent account's name
    snooze_until BIGINT,                     -- ms since the epoch; NULL: until the user writes
    opened_at    BIGINT NOT NULL,             -- ms when it last opened: the queue's order
    declined_by  TEXT                         -- who gave it back: not handed back to them
);
CREATE INDEX team_conversations_load ON team_conversations (status, assignee, opened_at);
-- Each conversation's team timeline: notes, status changes, assignments (agents only).
CREATE TABLE team_events (
    event        BIGSERIAL PRIMARY KEY,
    conversation BIGINT NOT NULL,
    kind         TEXT    NOT NULL,
    by_agent     TEXT,
    to_agent     TEXT,
    text         TEXT    NOT NULL DEFAULT '',
    client_id    TEXT,                        -- a note's id: the same note is stored once
    after_seq    BIGINT NOT NULL,
    at           BIGINT NOT NULL,
    UNIQUE (conversation, client_id)
);
CREATE INDEX team_events_of ON team_events (conversation, event);
ALTER TABLE agents ADD COLUMN capacity BIGINT NOT NULL DEFAULT 10;
ALTER TABLE agents ADD COLUMN last_assigned_at BIGINT NOT NULL DEFAULT 0;
-- Agents with a console connected, per instance, until the instance stops renewing the row.
CREATE TABLE agent_seats (
    name       TEXT    NOT NULL,
    node       TEXT    NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (name, node)
);
CREATE TABLE canned_replies (
    id       BIGSERIAL PRIMARY KEY,
    shortcut TEXT    NOT NULL UNIQUE,
    text     TEXT    NOT NULL
);
-- Every team change updates this one row first: changes take turns, on every instance.
CREATE TABLE team_turns (
    id    INTEGER PRIMARY KEY NOT NULL,
    turns BIGINT NOT NULL
);
INSERT INTO team_turns (id, turns) VALUES (1, 0);
-- Conversations from before the team inbox: open and unassigned (handed out oldest first).
INSERT INTO team_conversations (conversation, status, opened_at)
    SELECT conversation, 'open', 0 FROM counters WHERE conversation >= 0;
