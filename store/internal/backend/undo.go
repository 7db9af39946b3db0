package backend

import (
	"time"

	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/workflow"
)

// Undo remembers the caller-visible fields a request's write-backs changed, so that a
// rolled-back transaction leaves the caller's structs as they were.
type Undo struct {
	insts []instUndo
	recs  []recUndo
}

type instUndo struct {
	p                *store.Instance
	version          int64
	lease            store.Lease
	created, updated time.Time
}

type recUndo struct {
	p   *workflow.Record
	old workflow.Record
}

// Instance remembers in's Version, Lease, Created and Updated before a write-back.
func (u *Undo) Instance(in *store.Instance) {
	u.insts = append(u.insts, instUndo{in, in.Version, in.Lease, in.Created, in.Updated})
}

// Record remembers *r before a write-back.
func (u *Undo) Record(r *workflow.Record) { u.recs = append(u.recs, recUndo{r, *r}) }

// WriteBack writes into in what op made of it, remembering what it was: an Insert's version 1
// and times, an Update's next version and time, and the lease of either and of a Track.
func (u *Undo) WriteBack(op store.Op, in *store.Instance, lease store.Lease, now time.Time) {
	switch op {
	case store.Insert:
		u.Instance(in)
		in.Version, in.Lease, in.Created, in.Updated = 1, lease, now, now
	case store.Update:
		u.Instance(in)
		in.Version, in.Lease, in.Updated = in.Version+1, lease, now
	case store.Track:
		u.Instance(in)
		in.Lease = lease
	}
}

// Restore undoes the remembered write-backs, latest first, and forgets them.
func (u *Undo) Restore() {
	for i := len(u.recs) - 1; i >= 0; i-- {
		*u.recs[i].p = u.recs[i].old
	}
	for i := len(u.insts) - 1; i >= 0; i-- {
		x := u.insts[i]
		x.p.Version, x.p.Lease, x.p.Created, x.p.Updated = x.version, x.lease, x.created, x.updated
	}
	u.recs, u.insts = nil, nil
}
