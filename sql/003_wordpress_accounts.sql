-- Accounts that come from the WordPress store (contract §8): they keep WordPress's id,
-- WordPress owns them (origin), and wordpress_pass is the user_pass cartgate last saw
-- there, so a change of it is told apart from cartgate's own rehash at first login.
ALTER TABLE users ADD COLUMN origin text NOT NULL DEFAULT 'cartgate'
    CHECK (origin IN ('cartgate', 'wordpress'));
ALTER TABLE users ADD COLUMN wordpress_pass text;

-- How far the store's outbox has been applied: rows up to last_outbox_id are done, even
-- if deleting them from WordPress's database failed, so none is applied twice.
CREATE TABLE wordpress_sync (
    singleton       boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    last_outbox_id  bigint NOT NULL DEFAULT 0,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
INSERT INTO wordpress_sync DEFAULT VALUES;

-- Accounts cartgate creates itself (`cartgate user add`) are numbered from 10^12 up, far
-- above any id WordPress hands out, so the two never claim the same number.
SELECT setval('users_id_seq', greatest(1000000000000, (SELECT coalesce(max(id), 0) + 1 FROM users)), false);
