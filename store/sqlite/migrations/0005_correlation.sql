-- 0005_correlation: what finds an instance by its business data instead of its id: the
-- correlation key (unique), the current state of its state machine, and its promoted properties.

-- The correlation key; NULL for none (a unique index admits any number of NULLs).
ALTER TABLE instances ADD COLUMN correlation_key TEXT;
CREATE UNIQUE INDEX instances_correlation_key ON instances (correlation_key);

-- The current state of the outermost StateMachine ('' for none), filtered by in page order.
ALTER TABLE instances ADD COLUMN current_state TEXT NOT NULL DEFAULT '';
CREATE INDEX instances_current_state ON instances (current_state, created, id) WHERE current_state != '';

-- The promoted properties as a JSON object of name -> text, written with every persist, and
-- kept by the triggers below in instance_properties for the property filter, keyed in page
-- order. A persist that leaves them as they were (the common case) changes no index entry.
ALTER TABLE instances ADD COLUMN properties TEXT NOT NULL DEFAULT '{}';

CREATE TABLE instance_properties (
    name        TEXT    NOT NULL,
    value       TEXT    NOT NULL,
    created     INTEGER NOT NULL,                            -- the instance's created
    instance_id TEXT    NOT NULL,
    PRIMARY KEY (name, value, created, instance_id)
) WITHOUT ROWID;

CREATE TRIGGER instance_properties_insert AFTER INSERT ON instances WHEN NEW.properties != '{}' BEGIN
    INSERT INTO instance_properties (name, value, created, instance_id)
        SELECT key, value, NEW.created, NEW.id FROM json_each(NEW.properties);
END;

CREATE TRIGGER instance_properties_update AFTER UPDATE OF properties ON instances
    WHEN OLD.properties != NEW.properties BEGIN
    DELETE FROM instance_properties WHERE created = OLD.created AND instance_id = OLD.id
        AND (name, value) IN (SELECT key, value FROM json_each(OLD.properties));
    INSERT INTO instance_properties (name, value, created, instance_id)
        SELECT key, value, NEW.created, NEW.id FROM json_each(NEW.properties);
END;

CREATE TRIGGER instance_properties_delete AFTER DELETE ON instances WHEN OLD.properties != '{}' BEGIN
    DELETE FROM instance_properties WHERE created = OLD.created AND instance_id = OLD.id
        AND (name, value) IN (SELECT key, value FROM json_each(OLD.properties));
END;
