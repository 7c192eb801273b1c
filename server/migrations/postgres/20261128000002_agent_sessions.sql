-- Sessions carry the epoch they were issued in; setting a new password moves the epoch on,
-- which ends the older sessions.
ALTER TABLE agents ADD COLUMN session_epoch BIGINT NOT NULL DEFAULT 0;
