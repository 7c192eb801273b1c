-- Users the server has seen, with the name and avatar they last connected with: friend lists
-- show them, and a request can only go to someone who exists.
CREATE TABLE people (
    uid    INTEGER PRIMARY KEY NOT NULL,
    name   TEXT    NOT NULL,
    avatar TEXT    NOT NULL DEFAULT ''
);
-- One row per pair of users that have ever been friends (low < high). Its conversation id
-- is -1 - id, so peer conversations are numbered -2, -3, … below the agents' uid (-1).
-- The pair and its history stay when the friendship ends, so a renewed friendship
-- continues the same conversation.
CREATE TABLE pairs (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    low     INTEGER NOT NULL,
    high    INTEGER NOT NULL,
    friends INTEGER NOT NULL DEFAULT 0,
    UNIQUE (low, high)
);
-- Pending friend requests; dropped when answered, withdrawn, or 30 days old.
CREATE TABLE friend_requests (
    from_uid INTEGER NOT NULL,
    to_uid   INTEGER NOT NULL,
    note     TEXT    NOT NULL DEFAULT '',
    sent     INTEGER NOT NULL,
    PRIMARY KEY (from_uid, to_uid)
);
CREATE INDEX friend_requests_to ON friend_requests (to_uid);
-- Who blocked whom.
CREATE TABLE blocks (
    blocker INTEGER NOT NULL,
    blocked INTEGER NOT NULL,
    PRIMARY KEY (blocker, blocked)
);
