-- 0003_query: what QueryInstances and CountInstances need to answer from indexes at millions of
-- instances. Every page is ordered by (created, id) and continues after a (created, id) key, so
-- each index a page is read from ends in created, id. The Go side (sqlite/query.go) names the
-- index each filter uses with INDEXED BY, so that plans do not depend on statistics; the test
-- TestQueryPlans checks them with EXPLAIN QUERY PLAN.

-- The exception name of a Faulted completion (the suspension exception has its own column).
ALTER TABLE instances ADD COLUMN completion_exception TEXT NOT NULL DEFAULT '';
-- store.VersionKey(definition_version): the version as text in System.Version order ('' when it
-- does not parse). Written by the store; filled for existing rows by the migration's Go step.
ALTER TABLE instances ADD COLUMN version_key TEXT NOT NULL DEFAULT '';
-- The exception an instance is filtered and grouped by: the suspension's, else the completion's.
ALTER TABLE instances ADD COLUMN exception TEXT
    GENERATED ALWAYS AS (CASE WHEN suspension_exception != '' THEN suspension_exception ELSE completion_exception END) VIRTUAL;

-- Pages without a narrower filter, and created ranges.
CREATE INDEX instances_created ON instances (created, id);
-- Updated ranges (the page is then sorted by created, id).
CREATE INDEX instances_updated ON instances (updated);
-- A definition's instances, with and without a state (instances_state serves the state alone).
CREATE INDEX instances_definition ON instances (definition_name, created, id);
CREATE INDEX instances_state_definition ON instances (state, definition_name, created, id);
-- Instances that an exception suspended or faulted; most have none, so those are left out.
CREATE INDEX instances_exception ON instances (exception, created, id) WHERE exception != '';

-- The bookmarks each instance waits on, kept by the triggers below from blocking_bookmarks (a
-- JSON array), keyed for the bookmark filter in page order.
CREATE TABLE instance_bookmarks (
    bookmark    TEXT    NOT NULL,
    created     INTEGER NOT NULL,                            -- the instance's created
    instance_id TEXT    NOT NULL,
    PRIMARY KEY (bookmark, created, instance_id)
) WITHOUT ROWID;

INSERT INTO instance_bookmarks (bookmark, created, instance_id)
    SELECT DISTINCT j.value, i.created, i.id FROM instances AS i, json_each(i.blocking_bookmarks) AS j;

CREATE TRIGGER instance_bookmarks_insert AFTER INSERT ON instances BEGIN
    INSERT INTO instance_bookmarks (bookmark, created, instance_id)
        SELECT DISTINCT value, NEW.created, NEW.id FROM json_each(NEW.blocking_bookmarks);
END;

CREATE TRIGGER instance_bookmarks_update AFTER UPDATE OF blocking_bookmarks ON instances
    WHEN OLD.blocking_bookmarks != NEW.blocking_bookmarks BEGIN
    DELETE FROM instance_bookmarks WHERE created = OLD.created AND instance_id = OLD.id
        AND bookmark IN (SELECT value FROM json_each(OLD.blocking_bookmarks));
    INSERT INTO instance_bookmarks (bookmark, created, instance_id)
        SELECT DISTINCT value, NEW.created, NEW.id FROM json_each(NEW.blocking_bookmarks);
END;

CREATE TRIGGER instance_bookmarks_delete AFTER DELETE ON instances BEGIN
    DELETE FROM instance_bookmarks WHERE created = OLD.created AND instance_id = OLD.id
        AND bookmark IN (SELECT value FROM json_each(OLD.blocking_bookmarks));
END;

-- How many instances each combination of the columns a count can group or filter by without
-- reading rows has: counts by state, definition or exception read this small table instead of
-- the instances. Kept by the triggers below; groups that reach 0 are removed.
CREATE TABLE instance_counts (
    state              TEXT    NOT NULL,
    completion         TEXT    NOT NULL,
    definition_name    TEXT    NOT NULL,
    definition_package TEXT    NOT NULL,
    definition_version TEXT    NOT NULL,
    exception          TEXT    NOT NULL,
    n                  INTEGER NOT NULL,
    PRIMARY KEY (state, completion, definition_name, definition_package, definition_version, exception)
) WITHOUT ROWID;

INSERT INTO instance_counts (state, completion, definition_name, definition_package, definition_version, exception, n)
    SELECT state, completion, definition_name, definition_package, definition_version, exception, COUNT(*)
    FROM instances GROUP BY state, completion, definition_name, definition_package, definition_version, exception;

CREATE TRIGGER instance_counts_insert AFTER INSERT ON instances BEGIN
    INSERT INTO instance_counts (state, completion, definition_name, definition_package, definition_version, exception, n)
        VALUES (NEW.state, NEW.completion, NEW.definition_name, NEW.definition_package, NEW.definition_version, NEW.exception, 1)
        ON CONFLICT (state, completion, definition_name, definition_package, definition_version, exception) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER instance_counts_update
    AFTER UPDATE OF state, completion, definition_name, definition_package, definition_version,
        suspension_exception, completion_exception ON instances
    WHEN (OLD.state, OLD.completion, OLD.definition_name, OLD.definition_package, OLD.definition_version, OLD.exception)
        != (NEW.state, NEW.completion, NEW.definition_name, NEW.definition_package, NEW.definition_version, NEW.exception) BEGIN
    UPDATE instance_counts SET n = n - 1
        WHERE (state, completion, definition_name, definition_package, definition_version, exception)
            = (OLD.state, OLD.completion, OLD.definition_name, OLD.definition_package, OLD.definition_version, OLD.exception);
    DELETE FROM instance_counts
        WHERE (state, completion, definition_name, definition_package, definition_version, exception)
            = (OLD.state, OLD.completion, OLD.definition_name, OLD.definition_package, OLD.definition_version, OLD.exception)
        AND n <= 0;
    INSERT INTO instance_counts (state, completion, definition_name, definition_package, definition_version, exception, n)
        VALUES (NEW.state, NEW.completion, NEW.definition_name, NEW.definition_package, NEW.definition_version, NEW.exception, 1)
        ON CONFLICT (state, completion, definition_name, definition_package, definition_version, exception) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER instance_counts_delete AFTER DELETE ON instances BEGIN
    UPDATE instance_counts SET n = n - 1
        WHERE (state, completion, definition_name, definition_package, definition_version, exception)
            = (OLD.state, OLD.completion, OLD.definition_name, OLD.definition_package, OLD.definition_version, OLD.exception);
    DELETE FROM instance_counts
        WHERE (state, completion, definition_name, definition_package, definition_version, exception)
            = (OLD.state, OLD.completion, OLD.definition_name, OLD.definition_package, OLD.definition_version, OLD.exception)
        AND n <= 0;
END;
