-- Each conversation's last seq, taken with its row locked by the transaction that stores the
-- next message: numbers without gaps even with several servers writing to one database.
CREATE TABLE counters (
    conversation INTEGER PRIMARY KEY NOT NULL,
    last_seq     INTEGER NOT NULL
);
INSERT INTO counters (conversation, last_seq) SELECT conversation, MAX(seq) FROM messages GROUP BY conversation;
