-- Agent accounts: the password is stored as an Argon2id PHC string, never in clear.
CREATE TABLE agents (
    name          TEXT PRIMARY KEY NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL
);

-- Server-wide values, such as the key that signs agent sessions and guest tokens (made at
-- first start, so tokens survive restarts).
CREATE TABLE settings (
    key   TEXT PRIMARY KEY NOT NULL,
    value BLOB NOT NULL
);
