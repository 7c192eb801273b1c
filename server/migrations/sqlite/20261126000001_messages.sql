-- Every chat message, numbered per conversation without gaps.
CREATE TABLE messages (
    conversation INTEGER NOT NULL,
    seq          INTEGER NOT NULL,
    -- Made by the sending client (v1) or by the server (v0); unique per conversation, so a
    -- repeated send is recognised and acknowledged again instead of stored twice.
    client_id    TEXT    NOT NULL,
    uid          INTEGER NOT NULL,
    role         TEXT    NOT NULL,
    username     TEXT    NOT NULL,
    avatar       TEXT    NOT NULL,
    create_time  TEXT    NOT NULL,
    text         TEXT    NOT NULL,
    PRIMARY KEY (conversation, seq),
    UNIQUE (conversation, client_id)
);
