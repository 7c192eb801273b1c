-- Each user's invite generation: an invite link carries the generation it was made in and
-- stops working when it moves on (a new link asked for, a friendship of theirs ended, a block
-- of theirs set or lifted). No row: generation 0.
CREATE TABLE invite_epochs (
    uid   INTEGER PRIMARY KEY NOT NULL,
    epoch INTEGER NOT NULL
);
-- The app's friendship bodies applied to each pair at the latest issue time (`iat`) seen for
-- it: a body issued earlier, or one already applied, is refused (no replay).
CREATE TABLE app_bodies (
    low    INTEGER NOT NULL,
    high   INTEGER NOT NULL,
    iat    INTEGER NOT NULL,
    digest TEXT    NOT NULL,
    PRIMARY KEY (low, high, digest)
);
