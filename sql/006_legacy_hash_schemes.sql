-- Login's dummy work follows the legacy hash schemes some account holds (crypto/password.h
-- legacy_schemes, store/users.h legacy_schemes). Each worker asks which are present
-- through this partial index: it holds only accounts whose hash is not argon2id (imported
-- WordPress hashes not yet rehashed by a first login), keyed by the hash's first three
-- characters, so the question costs an index probe per scheme at any number of users and
-- nothing to keep up for the argon2id ones.
CREATE INDEX users_legacy_hash_idx ON users (substr(password_hash, 1, 3))
    WHERE password_hash NOT LIKE '$argon2id$%';

-- A legacy hash written by anything (an import, the WordPress sync, a password set for a
-- WordPress-owned account) tells every worker at commit, so none keeps skipping a dummy
-- that some account's real path now runs. Rows that get argon2id fire nothing: a scheme
-- that goes away only makes the dummies a little late to stop.
CREATE FUNCTION cartgate_legacy_hash_written() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('cartgate_password_schemes', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER users_legacy_hash_written
    AFTER INSERT OR UPDATE OF password_hash ON users
    FOR EACH ROW WHEN (NEW.password_hash NOT LIKE '$argon2id$%')
    EXECUTE FUNCTION cartgate_legacy_hash_written();
