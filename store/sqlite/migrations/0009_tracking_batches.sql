-- 0009_tracking_batches: tracking records are stored one row per change — the records one
-- Commit adds to one instance, encoded together (records.go) — instead of one row per record.
-- A Create adds about fourteen records and a Suspend three: as rows, each was a table row and
-- two index entries, and together they were most of an instance's database bytes and of the
-- writer's work per commit (BENCHMARKS.md). The Go step of this migration moves the records of
-- tracking_records here, then the old table is dropped.

-- first_seq and last_seq are the smallest and largest seq of the records in the row; time is
-- the earliest of their times (unix ms), what purging by age looks at first.
CREATE TABLE tracking_batches (
    first_seq   INTEGER PRIMARY KEY,
    last_seq    INTEGER NOT NULL,
    instance_id TEXT    NOT NULL,
    time        INTEGER NOT NULL,
    records     BLOB    NOT NULL
);
CREATE INDEX tracking_batches_instance ON tracking_batches (instance_id, last_seq);
CREATE INDEX tracking_batches_time ON tracking_batches (time);

-- The last seq handed out: seqs keep growing after the newest records were deleted, as
-- tracking_records' AUTOINCREMENT did (the Go step starts it where that left off).
CREATE TABLE tracking_seq (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    last INTEGER NOT NULL
);
