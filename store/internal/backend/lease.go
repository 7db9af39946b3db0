package backend

import (
	"fmt"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/store"
)

// Stored is an instance's version and lease as stored, and whether the lease's holder is live.
type Stored struct {
	Found      bool
	Version    int64
	Lease      store.Lease
	HolderLive bool
}

// HeldByOther reports whether a live owner other than by holds the lease.
func (c Stored) HeldByOther(by string) bool { return c.HolderLive && c.Lease.Owner != by }

// Grant is the lease owner gets: the one it has, or the next token.
func (c Stored) Grant(owner string) store.Lease {
	if c.Lease.Owner == owner && c.HolderLive {
		return c.Lease
	}
	return store.Lease{Owner: owner, Token: c.Lease.Token + 1}
}

// Fence decides whether change c may be written over cur (see store.Change; for an Insert,
// cur is the zero Stored) and returns the instance's lease afterwards. ownerLive fails unless
// its owner's registration is live; leased is the refusal naming the live holder of id's lease.
// The database reads stay with the backend: Fence only orders the checks and decides.
func Fence(c store.Change, cur Stored, ownerLive func(owner string) error,
	leased func(id uuid.UUID, holder string) error) (store.Lease, error) {
	in := c.Instance
	if c.By != "" {
		if err := ownerLive(c.By); err != nil {
			return store.Lease{}, err
		}
	}
	if c.Op == store.Insert {
		if c.By != "" && c.Hold {
			return store.Lease{Owner: c.By, Token: 1}, nil
		}
		return cur.Lease, nil
	}
	if c.By != "" && in.Lease.Owner == c.By && (cur.Lease != in.Lease || !cur.HolderLive) {
		return store.Lease{}, fmt.Errorf("%w: instance %s was leased to %q with token %d, now to %q with token %d",
			store.ErrLeaseLost, in.ID, c.By, in.Lease.Token, cur.Lease.Owner, cur.Lease.Token)
	}
	if cur.HeldByOther(c.By) {
		return store.Lease{}, leased(in.ID, cur.Lease.Owner)
	}
	var lease store.Lease
	switch {
	case c.By == "":
		lease = cur.Lease
	case c.Hold:
		lease = cur.Grant(c.By)
	default:
		lease = store.Lease{Token: cur.Lease.Token}
	}
	// An Update, and a Delete, Purge or Track that names a version, must be based on the stored one.
	if (c.Op == store.Update || ((c.Op == store.Delete || c.Op == store.Purge || c.Op == store.Track) && in.Version != 0)) && cur.Version != in.Version {
		return store.Lease{}, fmt.Errorf("%w: %s is at version %d, change was based on %d", store.ErrConflict, in.ID, cur.Version, in.Version)
	}
	return lease, nil
}
