-- How far each side has read each conversation: side is 'user' or 'agent' (all agents share
-- one read position, so a message read by one agent is read for the team).
CREATE TABLE reads (
    conversation INTEGER NOT NULL,
    side         TEXT    NOT NULL,
    seq          INTEGER NOT NULL,
    PRIMARY KEY (conversation, side)
);
