-- 0002_correlation: what finds an instance by its business data instead of its id: the
-- correlation key (unique), the current state of its state machine, and its promoted properties.

-- The correlation key; NULL for none (a unique index admits any number of NULLs).
ALTER TABLE instances ADD COLUMN correlation_key text;
CREATE UNIQUE INDEX instances_correlation_key ON instances (correlation_key);

-- The current state of the outermost StateMachine ('' for none), filtered by in page order.
ALTER TABLE instances ADD COLUMN current_state text NOT NULL DEFAULT '';
CREATE INDEX instances_current_state ON instances (current_state, created, id) WHERE current_state <> '';

-- The promoted properties (name -> text), written with every persist, and kept by the trigger
-- below in instance_properties for the property filter, keyed in page order. A persist that
-- leaves them as they were (the common case) changes no index entry.
ALTER TABLE instances ADD COLUMN properties jsonb NOT NULL DEFAULT '{}';

CREATE TABLE instance_properties (
    name        text        NOT NULL,
    value       text        NOT NULL,
    created     timestamptz NOT NULL,                         -- the instance's created
    instance_id uuid        NOT NULL,
    PRIMARY KEY (name, value, created, instance_id)
);

CREATE FUNCTION instance_properties_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        DELETE FROM instance_properties AS p USING jsonb_each_text(OLD.properties) AS o
            WHERE p.name = o.key AND p.value = o.value AND p.created = OLD.created AND p.instance_id = OLD.id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO instance_properties (name, value, created, instance_id)
            SELECT key, value, NEW.created, NEW.id FROM jsonb_each_text(NEW.properties);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER instance_properties_insert AFTER INSERT ON instances
    FOR EACH ROW WHEN (NEW.properties <> '{}') EXECUTE FUNCTION instance_properties_sync();
CREATE TRIGGER instance_properties_update AFTER UPDATE OF properties ON instances
    FOR EACH ROW WHEN (OLD.properties IS DISTINCT FROM NEW.properties)
    EXECUTE FUNCTION instance_properties_sync();
CREATE TRIGGER instance_properties_delete AFTER DELETE ON instances
    FOR EACH ROW WHEN (OLD.properties <> '{}') EXECUTE FUNCTION instance_properties_sync();
