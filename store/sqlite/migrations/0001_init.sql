-- 0001_init: instances and tracking records, modelled on WF4's SqlWorkflowInstanceStore
-- (InstancesTable + the tracking participant's records). Times are INTEGER unix milliseconds, UTC.

CREATE TABLE instances (
    id                   TEXT    NOT NULL PRIMARY KEY,       -- canonical lowercase uuid
    definition_name      TEXT    NOT NULL DEFAULT '',
    definition_package   TEXT    NOT NULL DEFAULT '',
    definition_version   TEXT    NOT NULL DEFAULT '',
    state                TEXT    NOT NULL,                   -- Active | Suspended | Completed
    completion           TEXT    NOT NULL DEFAULT '',        -- '' | Closed | Canceled | Terminated | Faulted
    suspension_reason    TEXT    NOT NULL DEFAULT '',
    suspension_exception TEXT    NOT NULL DEFAULT '',
    completion_reason    TEXT    NOT NULL DEFAULT '',
    blocking_bookmarks   TEXT    NOT NULL DEFAULT '[]',      -- JSON array of bookmark names, in order
    pending_timer        INTEGER,                            -- unix ms, NULL if none
    execution_status     TEXT    NOT NULL DEFAULT '',        -- Idle | Executing | Closed | Canceled | Faulted
    image                BLOB,                               -- serialised execution image, NULL if none
    variables            TEXT,                               -- JSON object, NULL if none
    version              INTEGER NOT NULL,
    lock_owner           TEXT    NOT NULL DEFAULT '',
    lock_expiry          INTEGER,                            -- unix ms, NULL if none
    created              INTEGER NOT NULL,
    updated              INTEGER NOT NULL
);

-- Durable timer loop: due timers of Active instances, earliest first (WF4: PendingTimer / RunnableTime).
-- The queries name this index and instances_runnable with INDEXED BY: without statistics the
-- planner would otherwise prefer instances_state (state = 'Active') and sort.
CREATE INDEX instances_due_timer ON instances (pending_timer, id)
    WHERE state = 'Active' AND pending_timer IS NOT NULL;

-- Startup recovery: Active instances that were executing (WF4: IsReadyToRun).
CREATE INDEX instances_runnable ON instances (id)
    WHERE state = 'Active' AND execution_status = 'Executing';

-- Listing by state, oldest first.
CREATE INDEX instances_state ON instances (state, created, id);

-- Tracking records outlive their instance: no foreign key, deleting an instance keeps them.
CREATE TABLE tracking_records (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT    NOT NULL,
    time        INTEGER NOT NULL,                            -- unix ms
    kind        TEXT    NOT NULL,                            -- Instance | Activity | Bookmark
    name        TEXT    NOT NULL DEFAULT '',
    activity    TEXT    NOT NULL DEFAULT '',
    reason      TEXT    NOT NULL DEFAULT '',
    principal   TEXT    NOT NULL DEFAULT '',
    data        TEXT    NOT NULL DEFAULT ''
);

CREATE INDEX tracking_records_instance ON tracking_records (instance_id, seq);
