-- Two-factor enrolment over REST: GET /two-factor/1.0/totp hands out a fresh key that
-- becomes active only once POST proves it with a code; until then it waits here, sealed
-- like totp_secret.
ALTER TABLE twofactor
    ADD COLUMN totp_pending_secret  text,
    ADD COLUMN totp_pending_at      timestamptz;

-- The From address a queued message was written with (NULL: the configured mail.from).
ALTER TABLE mail_outbox ADD COLUMN sender text;
