-- Retention (lib/store/retention.h): the pruner deletes rows past their retention in
-- small batches, each found through an index on its predicate's column, oldest first.
-- audit_events (time), sessions and refresh_tokens (expires_at) and rate_limits
-- (window_end) have theirs already; the two-factor codes get theirs here.
CREATE INDEX twofactor_email_codes_expires_idx ON twofactor_email_codes (expires_at);
CREATE INDEX twofactor_backup_codes_used_idx ON twofactor_backup_codes (used_at) WHERE used_at IS NOT NULL;

-- The last pass over each table: when it ended, how many rows it deleted, how long it
-- took. Written by whichever process ran the pass; read by operators and tests.
CREATE TABLE retention_runs (
    target        text PRIMARY KEY,
    finished_at   timestamptz NOT NULL,
    rows_deleted  bigint NOT NULL,
    seconds       double precision NOT NULL,
    complete      boolean NOT NULL
);
