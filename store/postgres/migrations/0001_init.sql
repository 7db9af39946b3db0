-- 0001_init: the whole store schema as the SQLite backend has it after its migration 0004, in
-- PostgreSQL's types. Times are timestamptz holding whole milliseconds (the store truncates
-- them), ids are uuid, images, variables and job specs bytea (kept byte for byte, NULL and empty
-- apart).

CREATE TABLE instances (
    id                   uuid        PRIMARY KEY,
    definition_name      text        NOT NULL DEFAULT '',
    definition_package   text        NOT NULL DEFAULT '',
    definition_version   text        NOT NULL DEFAULT '',
    -- store.VersionKey(definition_version): System.Version order as byte order ('' when it does
    -- not parse). COLLATE "C" so that comparisons are byte-wise whatever the database's locale.
    version_key          text        COLLATE "C" NOT NULL DEFAULT '',
    state                text        NOT NULL,               -- Active | Suspended | Completed
    completion           text        NOT NULL DEFAULT '',    -- '' | Closed | Canceled | Terminated | Faulted
    suspension_reason    text        NOT NULL DEFAULT '',
    suspension_exception text        NOT NULL DEFAULT '',
    completion_reason    text        NOT NULL DEFAULT '',
    completion_exception text        NOT NULL DEFAULT '',
    -- What instances are filtered and grouped by: the suspension's exception, else the completion's.
    exception            text        GENERATED ALWAYS AS
        (CASE WHEN suspension_exception <> '' THEN suspension_exception ELSE completion_exception END) STORED,
    blocking_bookmarks   text[]      NOT NULL DEFAULT '{}',  -- in order
    pending_timer        timestamptz,                        -- NULL if none
    execution_status     text        NOT NULL DEFAULT '',    -- Idle | Executing | Closed | Canceled | Faulted
    failures             integer     NOT NULL DEFAULT 0,
    image                bytea,
    variables            bytea,
    version              bigint      NOT NULL,
    -- The lease: held while lease_owner names an owner whose expiry is in the future.
    lease_owner          text        NOT NULL DEFAULT '',
    lease_token          bigint      NOT NULL DEFAULT 0,
    created              timestamptz NOT NULL,
    updated              timestamptz NOT NULL
);

-- Durable timers of Active instances, earliest first (NextTimer, ClaimDue, PendingTimers).
CREATE INDEX instances_due_timer ON instances (pending_timer, id)
    WHERE state = 'Active' AND pending_timer IS NOT NULL;
-- Recovery of interrupted executions (ClaimRunnable).
CREATE INDEX instances_runnable ON instances (id)
    WHERE state = 'Active' AND execution_status = 'Executing';
-- Releasing an owner's leases (Unregister).
CREATE INDEX instances_lease ON instances (lease_owner) WHERE lease_owner <> '';
-- Pages are ordered by (created, id) and continue after a (created, id) key, so each index a page
-- is read from ends in created, id.
CREATE INDEX instances_created ON instances (created, id);
CREATE INDEX instances_state ON instances (state, created, id);
CREATE INDEX instances_updated ON instances (updated);
CREATE INDEX instances_definition ON instances (definition_name, created, id);
CREATE INDEX instances_state_definition ON instances (state, definition_name, created, id);
-- Most instances have no exception: those are left out.
CREATE INDEX instances_exception ON instances (exception, created, id) WHERE exception <> '';

-- Tracking records outlive their instance (no foreign key): Delete keeps them, Purge deletes them.
CREATE TABLE tracking_records (
    seq         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    instance_id uuid        NOT NULL,
    time        timestamptz NOT NULL,
    kind        text        NOT NULL,                         -- Instance | Activity | Bookmark
    name        text        NOT NULL DEFAULT '',
    activity    text        NOT NULL DEFAULT '',
    reason      text        NOT NULL DEFAULT '',
    principal   text        NOT NULL DEFAULT '',
    data        text        NOT NULL DEFAULT ''
);
CREATE INDEX tracking_records_instance ON tracking_records (instance_id, seq);
-- Retention deletes the oldest records first.
CREATE INDEX tracking_records_time ON tracking_records (time);

-- Owners: one per host process; an id is never registered twice.
CREATE TABLE owners (
    id         text        PRIMARY KEY,
    node       text        NOT NULL DEFAULT '',
    info       text        NOT NULL DEFAULT '',
    registered timestamptz NOT NULL,
    expiry     timestamptz NOT NULL                           -- lapsed when <= now
);

-- The bookmarks each instance waits on, kept by the triggers below, keyed for the bookmark
-- filter in page order.
CREATE TABLE instance_bookmarks (
    bookmark    text        NOT NULL,
    created     timestamptz NOT NULL,                         -- the instance's created
    instance_id uuid        NOT NULL,
    PRIMARY KEY (bookmark, created, instance_id)
);

CREATE FUNCTION instance_bookmarks_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        DELETE FROM instance_bookmarks
            WHERE bookmark = ANY (OLD.blocking_bookmarks) AND created = OLD.created AND instance_id = OLD.id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO instance_bookmarks (bookmark, created, instance_id)
            SELECT DISTINCT b, NEW.created, NEW.id FROM unnest(NEW.blocking_bookmarks) AS b;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER instance_bookmarks_insert AFTER INSERT ON instances
    FOR EACH ROW EXECUTE FUNCTION instance_bookmarks_sync();
CREATE TRIGGER instance_bookmarks_update AFTER UPDATE OF blocking_bookmarks ON instances
    FOR EACH ROW WHEN (OLD.blocking_bookmarks IS DISTINCT FROM NEW.blocking_bookmarks)
    EXECUTE FUNCTION instance_bookmarks_sync();
CREATE TRIGGER instance_bookmarks_delete AFTER DELETE ON instances
    FOR EACH ROW EXECUTE FUNCTION instance_bookmarks_sync();

-- How many instances each combination of the columns that counts group or filter by without
-- reading rows has, as deltas: the triggers below only ever INSERT (+1 for the new group, -1
-- for the old), so concurrent writers, on one node or several, never wait for each other on a
-- shared counter row (which an UPDATE of one row per group would make them do, holding it to
-- their COMMIT, and deadlock when two of them move instances between groups in opposite
-- orders). A group's count is the SUM of its rows; the writer now and then folds the rows into
-- one per group (see compactCounts), so the table stays about as small as the set of groups.
CREATE TABLE instance_counts (
    state              text   NOT NULL,
    completion         text   NOT NULL,
    definition_name    text   NOT NULL,
    definition_package text   NOT NULL,
    definition_version text   NOT NULL,
    exception          text   NOT NULL,
    n                  bigint NOT NULL
);

CREATE FUNCTION instance_counts_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO instance_counts VALUES (OLD.state, OLD.completion, OLD.definition_name,
            OLD.definition_package, OLD.definition_version, OLD.exception, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO instance_counts VALUES (NEW.state, NEW.completion, NEW.definition_name,
            NEW.definition_package, NEW.definition_version, NEW.exception, 1);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER instance_counts_insert AFTER INSERT ON instances
    FOR EACH ROW EXECUTE FUNCTION instance_counts_sync();
CREATE TRIGGER instance_counts_update
    AFTER UPDATE OF state, completion, definition_name, definition_package, definition_version,
        suspension_exception, completion_exception ON instances
    FOR EACH ROW WHEN ((OLD.state, OLD.completion, OLD.definition_name, OLD.definition_package,
        OLD.definition_version, OLD.exception) IS DISTINCT FROM (NEW.state, NEW.completion,
        NEW.definition_name, NEW.definition_package, NEW.definition_version, NEW.exception))
    EXECUTE FUNCTION instance_counts_sync();
CREATE TRIGGER instance_counts_delete AFTER DELETE ON instances
    FOR EACH ROW EXECUTE FUNCTION instance_counts_sync();

-- Bulk jobs: spec is the host's JSON description of the job, cursor the page token of the next
-- page of its selection, faults a JSON object (outcome -> count).
CREATE TABLE bulk_jobs (
    id        uuid        PRIMARY KEY,
    spec      bytea       NOT NULL,
    principal text        NOT NULL DEFAULT '',
    status    text        NOT NULL,                           -- Running | Completed | Canceled | Failed
    cursor    text        NOT NULL DEFAULT '',
    matched   bigint      NOT NULL DEFAULT 0,
    done      bigint      NOT NULL DEFAULT 0,
    ok        bigint      NOT NULL DEFAULT 0,
    faults    jsonb       NOT NULL DEFAULT '{}',
    error     text        NOT NULL DEFAULT '',
    created   timestamptz NOT NULL,
    updated   timestamptz NOT NULL
);
CREATE INDEX bulk_jobs_status ON bulk_jobs (status, created, id);
CREATE INDEX bulk_jobs_created ON bulk_jobs (created, id);

-- One result per instance a job handled, in the order handled.
CREATE TABLE bulk_job_items (
    job_id      uuid        NOT NULL,
    seq         bigint      NOT NULL,
    instance_id uuid        NOT NULL,
    outcome     text        NOT NULL,                         -- ok, or a fault subcode
    detail      text        NOT NULL DEFAULT '',
    time        timestamptz NOT NULL,
    PRIMARY KEY (job_id, seq)
);
CREATE UNIQUE INDEX bulk_job_items_instance ON bulk_job_items (job_id, instance_id);
