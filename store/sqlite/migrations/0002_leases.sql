-- 0002_leases: owners (one per host process) and instance leases fenced by a token, replacing
-- the unused per-instance lock expiry; a failure count for the host's retry back-off.
-- An instance is leased while lease_owner names an owner whose expiry is in the future.

CREATE TABLE owners (
    id         TEXT    NOT NULL PRIMARY KEY,                 -- unique per process start
    node       TEXT    NOT NULL DEFAULT '',
    info       TEXT    NOT NULL DEFAULT '',
    registered INTEGER NOT NULL,                             -- unix ms
    expiry     INTEGER NOT NULL                              -- unix ms; lapsed when <= now
);

ALTER TABLE instances RENAME COLUMN lock_owner TO lease_owner;
ALTER TABLE instances DROP COLUMN lock_expiry;
ALTER TABLE instances ADD COLUMN lease_token INTEGER NOT NULL DEFAULT 0;
ALTER TABLE instances ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;

-- Releasing an owner's leases (Unregister) without a scan.
CREATE INDEX instances_lease ON instances (lease_owner) WHERE lease_owner != '';
