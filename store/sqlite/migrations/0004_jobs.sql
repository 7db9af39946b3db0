-- 0004_jobs: bulk jobs and their per-instance results, and what purging tracking records by age
-- needs.

-- A bulk job: spec is the host's JSON description of what to do (operation, filter, reason,
-- ...), cursor the page token of the next page of its selection; the counters and faults
-- (a JSON object: outcome -> count) are its progress. Times are unix ms, UTC.
CREATE TABLE bulk_jobs (
    id        TEXT    PRIMARY KEY,
    spec      BLOB    NOT NULL,
    principal TEXT    NOT NULL DEFAULT '',
    status    TEXT    NOT NULL,                               -- Running | Completed | Canceled | Failed
    cursor    TEXT    NOT NULL DEFAULT '',
    matched   INTEGER NOT NULL DEFAULT 0,
    done      INTEGER NOT NULL DEFAULT 0,
    ok        INTEGER NOT NULL DEFAULT 0,
    faults    TEXT    NOT NULL DEFAULT '{}',
    error     TEXT    NOT NULL DEFAULT '',
    created   INTEGER NOT NULL,
    updated   INTEGER NOT NULL
);
CREATE INDEX bulk_jobs_status ON bulk_jobs (status, created);

-- One result per instance a job handled, in the order handled.
CREATE TABLE bulk_job_items (
    job_id      TEXT    NOT NULL,
    seq         INTEGER NOT NULL,
    instance_id TEXT    NOT NULL,
    outcome     TEXT    NOT NULL,                             -- ok, or a fault subcode
    detail      TEXT    NOT NULL DEFAULT '',
    time        INTEGER NOT NULL,
    PRIMARY KEY (job_id, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX bulk_job_items_instance ON bulk_job_items (job_id, instance_id);

-- Tracking retention deletes the oldest records first, by time.
CREATE INDEX tracking_records_time ON tracking_records (time);
