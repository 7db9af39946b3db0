-- 0006_parent: the instance that started an instance (an InvokeWorkflow activity's child).

-- The parent's id; NULL for none. Written by Insert only, and no foreign key: a child may
-- outlive its parent's purge. The index, in page order, holds only the children: a parent's
-- children are one range of it, and all of it is every child.
ALTER TABLE instances ADD COLUMN parent TEXT;
CREATE INDEX instances_parent ON instances (parent, created, id) WHERE parent IS NOT NULL;
