package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/engine"
	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/workflow"
)

// Child instances (InvokeWorkflow; DESIGN-NOTES.md, "Child instances"). Three rules keep a
// parent and its children consistent without a lock held across instances:
//
//   - A child is inserted in the same transaction as the parent's image that waits for it.
//   - A child's completion is delivered to its parent in the same transaction as the
//     completion: the child's commit takes the parent's instance lock (child before parent,
//     never the other way round) and writes both rows.
//   - A child the parent stops waiting for (its InvokeWorkflow canceled, the parent terminated
//     or faulted) is canceled or terminated once the parent's commit is durable, by a command
//     of its own; should the host stop in between, the sweep at the next start finds it.

// kin is what a commit does to the instance's relatives, taken from the runtime with the image
// the commit writes.
type kin struct {
	started []*engine.Instance // children to insert with the commit
	orphans []engine.Orphan    // children to cancel or terminate once it is durable
}

// take moves the runtime's started and orphaned children into k.
func (k *kin) take(wf *engine.Instance) {
	k.started = append(k.started, wf.TakeStartedChildren()...)
	k.orphans = append(k.orphans, wf.TakeOrphans()...)
}

// invoker is the engine's view of the host for InvokeWorkflow.
type invoker struct{ h *Host }

func (iv invoker) Lookup(name, version string) (*engine.Definition, error) {
	return iv.h.defs.Lookup(name, version)
}

func (iv invoker) KeyInUse(key string) bool {
	page, err := iv.h.store.QueryInstances(iv.h.ctx, store.PageQuery{Filter: store.Filter{CorrelationKey: key}, Size: 1})
	return err == nil && len(page.Instances) > 0
}

// parentPrincipal is who the tracking trail names for what a parent does to its children.
func parentPrincipal(parent uuid.UUID) string { return "instance/" + parent.String() }

// childInsert is the Change that stores a child started by the instance of slot s: Active,
// not yet run (runnable), with its parent and its definition's correlation key.
func (h *Host) childInsert(s *slot, c *engine.Instance) (store.Change, error) {
	row := &store.Instance{ID: c.ID(), State: workflow.Active, Parent: s.id, CorrelationKey: c.CorrelationKey()}
	if err := h.snapshotInto(row, c); err != nil {
		return store.Change{}, err
	}
	created := workflow.Record{InstanceID: c.ID(), Time: h.now(), Kind: workflow.InstanceRecord, Name: "Created",
		Principal: parentPrincipal(s.id)}
	data, _ := json.Marshal(map[string]string{"definition": c.Identity().String(), "parent": s.id.String()})
	created.Data = string(data)
	return store.Change{Op: store.Insert, Instance: row, Records: []workflow.Record{created}, By: h.ownerID()}, nil
}

// outcomeOf is how the child whose completing row is row ended, for its parent: its variables
// as last snapshot (the live runtime's, else the row's).
func outcomeOf(row *store.Instance) engine.ChildOutcome {
	o := engine.ChildOutcome{Completion: row.Completion, Reason: row.CompletionReason}
	if row.Completion == workflow.Faulted && row.CompletionException != "" {
		o.Exception = &engine.Exception{Name: row.CompletionException, Message: row.CompletionReason}
	}
	if len(row.Variables) > 0 {
		_ = json.Unmarshal(row.Variables, &o.Outputs)
	}
	return o
}

// delivery is a child's completion staged in its parent, to commit with the child's.
type delivery struct {
	ps      *slot // the parent, locked until done
	row     *store.Instance
	changes []store.Change
	calls   []engine.Call
	kin     kin
}

// deliverToParent stages the completion (row) of the child in slot s in its waiting parent and
// returns what to commit with it; nil when no parent waits for it (gone, completed, no longer
// waiting, or its image cannot be loaded). The parent's lock is held until finishDelivery.
func (h *Host) deliverToParent(ctx context.Context, s *slot, row *store.Instance) *delivery {
	ps := h.acquire(row.Parent)
	giveUp := func() *delivery { h.release(ps); return nil }
	if err := h.readRow(ctx, ps); err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			h.log.Warn("the parent of a completing child cannot be read", "child", s.id, "parent", row.Parent, "err", err)
		}
		return giveUp()
	}
	if ps.rec.State == workflow.Completed {
		return giveUp()
	}
	wasLoaded := ps.wf != nil
	if err := h.load(ps); err != nil {
		h.log.Error("the parent of a completing child cannot be loaded", "child", s.id, "parent", row.Parent, "err", err)
		return giveUp()
	}
	if err := ps.wf.CompleteChild(s.id, outcomeOf(row)); err != nil {
		if !wasLoaded {
			h.setLive(ps, nil)
		}
		return giveUp()
	}
	d := &delivery{ps: ps}
	prow, recs, calls, err := h.snapshotSlot(ps, &d.kin)
	if err != nil {
		h.release(ps)
		return nil
	}
	keep := prow.State == workflow.Active
	d.row, d.calls = prow, calls
	d.changes, err = h.changes(ps, prow, recs, keep, d.kin.started)
	if err != nil {
		h.discard(ps)
		h.release(ps)
		return nil
	}
	return d
}

// finishDelivery finishes a delivery after the commit: on success the parent runs on from the child's
// outcome (or, suspended, keeps it in its image); on failure it goes back to its last persisted
// state. The parent's lock is released.
func (h *Host) finishDelivery(d *delivery, committed bool) {
	if d == nil {
		return
	}
	ps := d.ps
	defer h.release(ps)
	if !committed {
		h.discard(ps)
		return
	}
	keep := d.row.State == workflow.Active
	h.committed(ps, d.row, keep)
	h.issueCalls(ps.id, d.row.State, d.calls)
	h.afterKin(ps.id, d.kin)
	if keep {
		h.drive(ps)
	}
}

// afterKin runs once a commit holding k is durable: the children it inserted start executing,
// and the ones it orphaned are canceled or terminated.
func (h *Host) afterKin(parent uuid.UUID, k kin) {
	for _, c := range k.started {
		h.background(c.ID(), func(s *slot) error { return h.run(h.ctx, s) })
	}
	for _, o := range k.orphans {
		h.orphan(parent, o.ID, o.Terminate, "its parent no longer waits for it")
	}
}

// orphan cancels (or terminates) a child its parent no longer waits for, in the background,
// as a management command the child's tracking trail attributes to the parent.
func (h *Host) orphan(parent, child uuid.UUID, terminate bool, why string) {
	op, effect := "Cancel", Cancel
	if terminate {
		op, effect = "Terminate", Terminate
	}
	cmd := Command{Instance: child, Operation: op, Requires: Operator,
		Reason: fmt.Sprintf("parent %s: %s", parent, why),
		Rules: func(c Condition) Decision {
			switch {
			case !c.Exists:
				return Decision{Refuse: ErrNotFound}
			case c.State == workflow.Completed:
				return Decision{Refuse: ErrCompleted}
			}
			return Decision{Effect: effect}
		}}
	ctx := WithPrincipal(h.ctx, Principal{Name: parentPrincipal(parent), Role: Operator})
	h.goBackground(func() {
		err := h.Manage(ctx, cmd)
		var he *Error
		if err != nil && !(errors.As(err, &he) && (he.Kind == ErrNotFound || he.Kind == ErrCompleted)) && h.ctx.Err() == nil {
			h.log.Error("a child its parent no longer waits for could not be stopped; the sweep at the next start retries",
				"parent", parent, "child", child, "operation", op, "err", err)
		}
	})
}

// childrenOf lists the children the instance's last persisted image waits for.
func (h *Host) childrenOf(s *slot) []uuid.UUID {
	if s.rec == nil || len(s.rec.Image) == 0 {
		return nil
	}
	wf, err := engine.Restore(h.defs, s.rec.Image)
	if err != nil {
		return nil
	}
	return wf.Children()
}

// sweepChildren stops the children whose parent no longer waits for them — left running by a
// host that stopped between a parent's commit and the commands it implied: children of a
// completed or deleted parent are terminated, the others canceled. It runs at start-up.
func (h *Host) sweepChildren(ctx context.Context) error {
	for _, state := range []workflow.State{workflow.Active, workflow.Suspended} {
		token := ""
		for {
			page, err := h.store.QueryInstances(ctx, store.PageQuery{Filter: store.Filter{State: state, HasParent: true}, Token: token, Size: store.MaxPageSize})
			if err != nil {
				return err
			}
			for _, c := range page.Instances {
				if why, terminate, stop := h.orphaned(ctx, c); stop {
					h.orphan(c.Parent, c.ID, terminate, why)
				}
			}
			if page.Next == "" {
				break
			}
			token = page.Next
		}
	}
	return nil
}

// orphaned tells whether child c's parent no longer waits for it, and how to stop it.
func (h *Host) orphaned(ctx context.Context, c *store.Instance) (why string, terminate, stop bool) {
	p, err := h.store.Get(ctx, c.Parent)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "it no longer exists", true, true
	case err != nil:
		return "", false, false
	case p.State == workflow.Completed:
		return fmt.Sprintf("it completed (%s)", p.Completion), true, true
	}
	wf, err := engine.Restore(h.defs, p.Image)
	if err != nil || slices.Contains(wf.Children(), c.ID) {
		return "", false, false
	}
	return "it no longer waits for it", false, true
}
