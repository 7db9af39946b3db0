-- 0004_nodes: the node registry of several hosts on one database — how other nodes reach an
-- owner (they forward it operations on the instances it holds) and when it last renewed.

ALTER TABLE owners ADD COLUMN advertise text NOT NULL DEFAULT '';
ALTER TABLE owners ADD COLUMN renewed timestamptz;
UPDATE owners SET renewed = registered;
ALTER TABLE owners ALTER COLUMN renewed SET NOT NULL;
