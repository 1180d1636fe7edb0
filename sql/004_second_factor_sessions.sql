-- When a session was logged in with a second factor (NULL: with the password alone, from
-- the storefront without one, or made by `cartgate jwt create`). Changing or removing a
-- factor over REST needs this to be recent, or a current code (contract §3).
ALTER TABLE sessions ADD COLUMN second_factor_at timestamptz;
