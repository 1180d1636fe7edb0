-- `cartgate jwt list` (sessions::list) pages through every session newest first:
-- ORDER BY created_at DESC, pat. Without an index in that order each page sorted the
-- whole table (a top-N heap of OFFSET + LIMIT rows, spilling to disk for the last
-- pages); with it the first page reads 20 index entries and a later page walks the
-- index up to its offset (docs/scale.md).
CREATE INDEX sessions_created_idx ON sessions (created_at DESC, pat);
