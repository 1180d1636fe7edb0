-- cartgate schema, first version. Applied files are never edited; later changes are new
-- numbered files.

CREATE TABLE users (
    id             bigserial PRIMARY KEY,
    login          text NOT NULL,
    email          text NOT NULL,
    phone          text,
    password_hash  text NOT NULL,
    first_name     text NOT NULL DEFAULT '',
    last_name      text NOT NULL DEFAULT '',
    display_name   text NOT NULL DEFAULT '',
    roles          text[] NOT NULL DEFAULT ARRAY['customer'],
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_login_key ON users (lower(login));
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE UNIQUE INDEX users_phone_key ON users (phone) WHERE phone IS NOT NULL;

-- One row per login session; "pat" is the session id carried in the access token.
CREATE TABLE sessions (
    pat            text PRIMARY KEY,
    user_id        bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    ip             text NOT NULL DEFAULT '',
    device         text NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    last_used_at   timestamptz,
    revoked_at     timestamptz,
    revoke_reason  text
);
CREATE INDEX sessions_user_idx ON sessions (user_id, created_at);
CREATE INDEX sessions_expires_idx ON sessions (expires_at);

-- Refresh tokens exist only as SHA-256 hashes. A rotated or retired token keeps its row
-- (retired_at set) until its session expires, so presenting it again is seen as reuse.
CREATE TABLE refresh_tokens (
    token_hash     bytea PRIMARY KEY,
    pat            text NOT NULL REFERENCES sessions (pat) ON DELETE CASCADE,
    user_id        bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    retired_at     timestamptz
);
CREATE INDEX refresh_tokens_pat_idx ON refresh_tokens (pat);
CREATE INDEX refresh_tokens_expires_idx ON refresh_tokens (expires_at);

-- Two-factor state per user.
CREATE TABLE twofactor (
    user_id              bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    totp_secret          text,            -- sealed (AES-256-GCM), never plain
    totp_enabled         boolean NOT NULL DEFAULT false,
    totp_last_step       bigint NOT NULL DEFAULT 0,
    email_enabled        boolean NOT NULL DEFAULT false,
    primary_provider     text,
    last_used_provider   text,
    last_used_at         timestamptz
);

CREATE TABLE twofactor_email_codes (
    id           bigserial PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash    text NOT NULL,
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz
);
CREATE INDEX twofactor_email_codes_user_idx ON twofactor_email_codes (user_id);

CREATE TABLE twofactor_backup_codes (
    id           bigserial PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash    text NOT NULL,
    used_at      timestamptz
);
CREATE INDEX twofactor_backup_codes_user_idx ON twofactor_backup_codes (user_id);

-- Mail waiting for the SMTP server. Bodies are sealed; rows go once sent.
CREATE TABLE mail_outbox (
    id               bigserial PRIMARY KEY,
    recipient        text NOT NULL,
    subject          text NOT NULL,
    body_sealed      text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    locked_until     timestamptz,
    last_error       text
);
CREATE INDEX mail_outbox_due_idx ON mail_outbox (next_attempt_at);

CREATE TABLE devices (
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    device_id   text NOT NULL,
    label       text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, device_id)
);

CREATE TABLE clients (
    client_id    text PRIMARY KEY,
    min_version  text,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE client_info (
    user_id      bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    client_id    text NOT NULL,
    app_version  text,
    login_time   timestamptz NOT NULL DEFAULT now()
);

-- Weekly login windows; day 0 = Sunday; to_minute < from_minute runs past midnight.
CREATE TABLE schedules (
    id           bigserial PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    day          smallint NOT NULL CHECK (day BETWEEN 0 AND 6),
    from_minute  smallint NOT NULL CHECK (from_minute BETWEEN 0 AND 1439),
    to_minute    smallint NOT NULL CHECK (to_minute BETWEEN 0 AND 1439)
);
CREATE INDEX schedules_user_idx ON schedules (user_id);

-- Runtime policy (contract §7). Workers LISTEN on cartgate_options.
CREATE TABLE options (
    key         text PRIMARY KEY,
    value       text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION cartgate_options_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('cartgate_options', '');
    RETURN NULL;
END $$;
CREATE TRIGGER options_changed AFTER INSERT OR UPDATE OR DELETE ON options
    FOR EACH STATEMENT EXECUTE FUNCTION cartgate_options_notify();

-- Fixed-window counters shared by every worker and host.
CREATE TABLE rate_limits (
    bucket        text PRIMARY KEY,
    hits          integer NOT NULL,
    window_start  timestamptz NOT NULL,
    window_end    timestamptz NOT NULL
);
CREATE INDEX rate_limits_end_idx ON rate_limits (window_end);

-- Security audit trail: never holds a token, code or secret.
CREATE TABLE audit_events (
    id        bigserial PRIMARY KEY,
    time      timestamptz NOT NULL DEFAULT now(),
    event     text NOT NULL,
    user_id   bigint,
    pat       text,
    ip        text,
    detail    jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_time_idx ON audit_events (time);
CREATE INDEX audit_events_user_idx ON audit_events (user_id, time);
