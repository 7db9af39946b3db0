-- 0007_nodes: the node registry of several hosts on one store — how other nodes reach an
-- owner (they forward it operations on the instances it holds) and when it last renewed.

ALTER TABLE owners ADD COLUMN advertise TEXT NOT NULL DEFAULT '';
ALTER TABLE owners ADD COLUMN renewed INTEGER NOT NULL DEFAULT 0;  -- unix ms
UPDATE owners SET renewed = registered;
