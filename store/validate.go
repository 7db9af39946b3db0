package store

import (
	"fmt"

	"github.com/google/uuid"
)

// ValidateChanges checks the shape of the changes of one Commit call without touching any
// database; every backend calls it first so malformed input fails the same way everywhere
// (errors.Is(err, ErrInvalid)). It checks that each Change has an Instance with a non-nil id,
// a known Op, a known State for Insert/Update, and that each Record's InstanceID is either
// uuid.Nil (the store fills it in) or the Change's instance id.
func ValidateChanges(changes []Change) error {
	for i, c := range changes {
		if c.Instance == nil {
			return fmt.Errorf("%w: change %d: nil Instance", ErrInvalid, i)
		}
		id := c.Instance.ID
		if id == uuid.Nil {
			return fmt.Errorf("%w: change %d: nil instance id", ErrInvalid, i)
		}
		switch c.Op {
		case Insert, Update:
			if !c.Instance.State.Valid() {
				return fmt.Errorf("%w: change %d: instance %s: unknown state %q", ErrInvalid, i, id, c.Instance.State)
			}
		case Purge:
			if len(c.Records) > 0 {
				return fmt.Errorf("%w: change %d: a Purge of instance %s carries records", ErrInvalid, i, id)
			}
		case Delete, Track:
		default:
			return fmt.Errorf("%w: change %d: unknown op %d", ErrInvalid, i, c.Op)
		}
		for j, r := range c.Records {
			if r.InstanceID != uuid.Nil && r.InstanceID != id {
				return fmt.Errorf("%w: change %d record %d: record of instance %s in a change of instance %s",
					ErrInvalid, i, j, r.InstanceID, id)
			}
		}
	}
	return nil
}

// String returns the Op's name.
func (o Op) String() string {
	switch o {
	case Insert:
		return "Insert"
	case Update:
		return "Update"
	case Delete:
		return "Delete"
	case Track:
		return "Track"
	case Purge:
		return "Purge"
	}
	return fmt.Sprintf("Op(%d)", int(o))
}
