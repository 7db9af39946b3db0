package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/engine"
	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/workflow"
)

// Bounded-interval persistence of long executions: a slot with this many tracking records
// waiting, or this long since its last commit, is saved at the next work-item boundary, so
// neither memory nor one huge transaction grows with a workflow that does not idle.
const (
	flushRecords = 1000
	flushEvery   = time.Second
)

// readRow loads the instance row into the slot if it is not there yet.
func (h *Host) readRow(ctx context.Context, s *slot) error {
	if s.rec != nil {
		return nil
	}
	rec, err := h.store.Get(ctx, s.id)
	if err != nil {
		return err
	}
	s.rec = rec
	return nil
}

// rowError is readRow's error as the host reports it.
func (h *Host) rowError(s *slot, op string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return refuse(ErrNotFound, s.id, op, "")
	}
	return h.unavailable(s.id, op, err)
}

// load restores the live runtime from the last persisted image.
func (h *Host) load(s *slot) error {
	if s.wf != nil {
		return nil
	}
	if len(s.rec.Image) == 0 {
		return fmt.Errorf("instance %s has no execution image", s.id)
	}
	wf, err := engine.Restore(h.defs, s.rec.Image)
	if err != nil {
		return fmt.Errorf("instance %s cannot be loaded: %w", s.id, err)
	}
	h.setLive(s, wf)
	s.dirty, s.work, s.saved = false, 0, time.Now() // loaded as persisted
	return nil
}

// discard throws the live runtime and any staged change away; the next access reloads the
// last persisted row.
func (h *Host) discard(s *slot) {
	h.setLive(s, nil)
	s.rec, s.fresh, s.staged, s.dirty, s.pending = nil, false, false, false, nil
}

// unsaved reports whether the slot holds anything the store does not have yet.
func (s *slot) unsaved() bool { return s.fresh || s.staged || s.dirty || len(s.pending) > 0 }

// stage changes the in-memory row and queues tracking records; the next save commits both
// together with whatever execution did meanwhile (one transaction), and a failure discards them.
func (h *Host) stage(s *slot, mutate func(*store.Instance), recs ...workflow.Record) {
	row := *s.rec
	if mutate != nil {
		mutate(&row)
	}
	s.rec, s.staged = &row, true
	s.pending = append(s.pending, recs...)
}

// save commits the slot's row — with the live runtime's image, bookmarks, timer and
// variables when loaded, then mutate applied — plus the engine's pending tracking records
// and extra, in one durable transaction (with the children the runtime started). keep says
// whether the instance stays loaded, and its lease held, afterwards. On failure the slot is
// discarded: memory never runs ahead of the store.
func (h *Host) save(ctx context.Context, s *slot, keep bool, mutate func(*store.Instance), extra ...workflow.Record) error {
	row := s.rec
	var recs []workflow.Record
	var calls []engine.Call // the pending calls of the image committed
	var k kin
	snapshot := s.wf != nil
	if snapshot {
		var err error
		if row, recs, calls, err = h.snapshotSlot(s, &k); err != nil {
			return err
		}
	} else {
		r := *row
		row = &r
	}
	if mutate != nil {
		mutate(row)
	}
	if err := h.commitKin(ctx, s, row, append(recs, extra...), keep, k); err != nil {
		return err
	}
	if snapshot {
		h.issueCalls(s.id, row.State, calls) // only once the image holding them is durable
	}
	return nil
}

// snapshotSlot is the row a save of the loaded slot writes, with the engine's tracking records
// and a Persisted record, the image's pending calls, and (into k) its started and orphaned
// children. On failure the slot is discarded.
func (h *Host) snapshotSlot(s *slot, k *kin) (*store.Instance, []workflow.Record, []engine.Call, error) {
	row := *s.rec
	if err := h.snapshotInto(&row, s.wf); err != nil {
		h.discard(s)
		return nil, nil, nil, err
	}
	calls := s.wf.PendingCalls()
	recs := append(h.drain(s), h.record(s, workflow.InstanceRecord, "Persisted", "", ""))
	row.Failures = 0 // the execution got somewhere: back-off starts over
	k.take(s.wf)
	return &row, recs, calls, nil
}

// commit writes row with the staged records and recs, inserting it if it is fresh, fenced by
// this host's owner registration. keep: the instance stays loaded and leased; otherwise it is
// unloaded and its lease released. On failure the slot is discarded.
func (h *Host) commit(ctx context.Context, s *slot, row *store.Instance, recs []workflow.Record, keep bool) error {
	return h.commitKin(ctx, s, row, recs, keep, kin{})
}

// commitKin is commit with what it does to relatives: the children k started are inserted in
// the same transaction and start executing after it, the ones it orphaned are stopped; and a
// child's completion is delivered to its waiting parent in the same transaction.
func (h *Host) commitKin(ctx context.Context, s *slot, row *store.Instance, recs []workflow.Record, keep bool, k kin) error {
	keep = keep && s.wf != nil
	changes, err := h.changes(s, row, recs, keep, k.started)
	if err != nil {
		h.discard(s)
		return err
	}
	var d *delivery
	if row.State == workflow.Completed && s.rec.State != workflow.Completed && row.Parent != uuid.Nil {
		if d = h.deliverToParent(ctx, s, row); d != nil {
			changes = append(changes, d.changes...)
		}
	}
	holder := row.Lease.Owner // as read when the slot was loaded; the commit writes back the new lease
	cctx, cancel := h.leaseBound(ctx)
	err = h.store.Commit(cctx, changes...)
	cancel()
	if err != nil {
		h.discard(s)
		h.finishDelivery(d, false)
		return h.storeError(s, err)
	}
	h.tookOver(holder) // a commit over another owner's lease succeeds only if that owner lapsed
	h.committed(s, row, keep)
	h.finishDelivery(d, true)
	h.afterKin(s.id, k)
	return nil
}

// changes is what a commit of the slot writes: its row (inserted if fresh) with the staged
// records and recs, and an insert of each child it started.
func (h *Host) changes(s *slot, row *store.Instance, recs []workflow.Record, keep bool, started []*engine.Instance) ([]store.Change, error) {
	op := store.Update
	if s.fresh {
		op = store.Insert
	}
	changes := []store.Change{{Op: op, Instance: row, Records: append(s.pending, recs...), By: h.ownerID(), Hold: keep}}
	for _, c := range started {
		ch, err := h.childInsert(s, c)
		if err != nil {
			return nil, err
		}
		changes = append(changes, ch)
	}
	return changes, nil
}

// committed brings the slot up to date with the row a commit has made durable.
func (h *Host) committed(s *slot, row *store.Instance, keep bool) {
	s.rec, s.fresh, s.staged, s.dirty, s.pending, s.saved = row, false, false, false, nil, time.Now()
	h.retries.succeeded(s.id) // the store takes this instance's writes again
	if !keep {
		h.setLive(s, nil)
	}
	if !row.PendingTimer.IsZero() && row.State == workflow.Active {
		h.timerCommitted(row.PendingTimer)
	}
	if row.State == workflow.Completed {
		nudge(h.retain)
		h.completions.completed(s.id)
		h.flights.cancelExcept(s.id, nil) // nothing waits for its calls any more
	}
}

// commitTrack appends tracking records alone, for events that change no instance state. keep
// as for commit.
func (h *Host) commitTrack(ctx context.Context, s *slot, recs []workflow.Record, keep bool) error {
	in := &store.Instance{ID: s.id}
	if s.rec != nil {
		// The records tell of a decision made on this version: another node's change since
		// then refuses them (ErrConflict), and the decision is made again.
		in.Lease, in.Version = s.rec.Lease, s.rec.Version
	}
	keep = keep && s.wf != nil
	if len(recs) == 0 && keep {
		return nil
	}
	cctx, cancel := h.leaseBound(ctx)
	err := h.store.Commit(cctx, store.Change{Op: store.Track, Instance: in, Records: recs, By: h.ownerID(), Hold: keep})
	cancel()
	if err != nil {
		h.discard(s)
		return h.storeError(s, err)
	}
	if s.rec != nil {
		row := *s.rec
		row.Lease = in.Lease
		s.rec = &row
	}
	h.retries.succeeded(s.id)
	if !keep {
		h.setLive(s, nil)
	}
	return nil
}

// storeError is a failed commit as the host reports it.
func (h *Host) storeError(s *slot, err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return refuse(ErrNotFound, s.id, "", "")
	case errors.Is(err, store.ErrKeyExists):
		return refuse(ErrExists, s.id, "", "its correlation key is another instance's: "+strings.TrimPrefix(err.Error(), store.ErrKeyExists.Error()+": "))
	case errors.Is(err, store.ErrExists):
		return refuse(ErrExists, s.id, "", "")
	}
	return h.unavailable(s.id, "", err)
}

// snapshotInto copies the runtime's persistable state into row.
func (h *Host) snapshotInto(row *store.Instance, wf *engine.Instance) error {
	img, err := wf.Snapshot()
	if err != nil {
		return fmt.Errorf("snapshot of instance %s: %w", row.ID, err)
	}
	vars, err := json.Marshal(wf.Variables())
	if err != nil {
		return fmt.Errorf("variables of instance %s: %w", row.ID, err)
	}
	row.Image, row.Variables = img, vars
	row.Bookmarks = wf.Bookmarks()
	row.CurrentState = wf.CurrentState()
	row.Properties = wf.PromotedProperties()
	row.PendingTimer = time.Time{}
	if t, ok := wf.NextTimer(); ok {
		row.PendingTimer = t.UTC()
	}
	row.Definition = wf.Identity()
	switch wf.Status() {
	case engine.StatusIdle:
		row.ExecutionStatus = "Idle"
	case engine.StatusCompleted:
		c, _ := wf.Completion()
		row.ExecutionStatus = string(c)
	default:
		row.ExecutionStatus = "Executing"
	}
	return nil
}

// drain takes the engine's pending tracking records, stamped with instance and time.
func (h *Host) drain(s *slot) []workflow.Record {
	if s.wf == nil {
		return nil
	}
	recs := s.wf.DrainRecords()
	profile := h.tracking
	if p := s.wf.Definition().Tracking; p != nil {
		profile = *p
	}
	now := h.now()
	kept := recs[:0]
	for _, r := range recs {
		if profile.Keeps(r.Kind) {
			r.InstanceID, r.Time = s.id, now
			kept = append(kept, r)
		}
	}
	return kept
}

func (h *Host) record(s *slot, kind workflow.RecordKind, name, reason, principal string) workflow.Record {
	return workflow.Record{InstanceID: s.id, Time: h.now(), Kind: kind, Name: name, Reason: reason, Principal: principal}
}

// run gives a loaded or persisted Active instance a chance to execute: up to the inline
// budget now, then (if there is still work) durably persisted and continued in the background.
// It must be called with the instance lock held.
func (h *Host) run(ctx context.Context, s *slot) error {
	if err := h.readRow(ctx, s); err != nil {
		return h.rowError(s, "", err)
	}
	if s.rec.State != workflow.Active {
		return nil
	}
	if err := h.load(s); err != nil {
		return h.unloadable(ctx, s, err)
	}
	more, err := h.execute(ctx, s, h.cfg.InlineBudget)
	if err != nil || !more {
		return err
	}
	if err := h.save(ctx, s, true, nil); err != nil {
		return err
	}
	h.drive(s)
	return nil
}

// execute runs up to budget work items, persisting at Persist points, on idle, on completion
// and at bounded intervals, and applying the unhandled-exception policy and the work-item
// limit. more reports remaining work.
func (h *Host) execute(ctx context.Context, s *slot, budget int) (more bool, err error) {
	s.idleGen = h.activities.Add(1)
	h.idle.remove(s.id)
	for budget > 0 {
		if err := ctx.Err(); err != nil {
			return true, err
		}
		res := s.wf.Run(h.now(), min(h.cfg.Slice, budget))
		budget -= max(res.WorkItems, 1)
		s.work += res.WorkItems
		if res.WorkItems > 0 {
			s.dirty = true
		}
		switch res.Kind {
		case engine.ResultRunnable:
			if s.work >= h.maxWorkItems(s) {
				return false, h.runaway(ctx, s)
			}
			if s.wf.PendingRecords() >= flushRecords || time.Since(s.saved) >= flushEvery {
				if err := h.save(ctx, s, true, nil); err != nil {
					return false, err
				}
			}
		case engine.ResultPersistRequested:
			if err := h.save(ctx, s, true, nil); err != nil {
				return false, err
			}
		case engine.ResultIdle:
			s.work = 0
			return false, h.settle(ctx, s)
		case engine.ResultCompleted:
			return false, h.save(ctx, s, false, func(row *store.Instance) {
				exc := ""
				if res.Completion == workflow.Faulted && res.Exception != nil {
					exc = res.Exception.Name
				}
				markCompleted(row, res.Completion, res.Reason, exc)
			})
		case engine.ResultUnhandledException:
			cont, err := h.unhandled(ctx, s, res)
			if !cont || err != nil {
				return false, err
			}
		default:
			return false, fmt.Errorf("instance %s: unexpected run result %q", s.id, res.Kind)
		}
	}
	return true, nil
}

// settle deals with an idle loaded instance: unloaded at once when suspended or when the host
// unloads at once (persisting what is unsaved in the same commit), otherwise persisted if
// needed and scheduled for unloading.
func (h *Host) settle(ctx context.Context, s *slot) error {
	if s.rec.State != workflow.Active || h.cfg.UnloadAfter < 0 {
		return h.unload(ctx, s)
	}
	if s.unsaved() {
		if err := h.save(ctx, s, true, nil); err != nil {
			return err
		}
	}
	h.scheduleUnload(s)
	return nil
}

// maxWorkItems is the instance's limit of work items without becoming idle.
func (h *Host) maxWorkItems(s *slot) int {
	if n := s.wf.Definition().MaxWorkItems; n > 0 {
		return n
	}
	return h.cfg.MaxWorkItems
}

// runaway suspends an instance that ran its work-item limit without becoming idle, keeping
// its progress: Unsuspend lets it go on (with a fresh allowance), Terminate ends it.
func (h *Host) runaway(ctx context.Context, s *slot) error {
	limit := h.maxWorkItems(s)
	msg := fmt.Sprintf("ran %d work items without becoming idle (the limit is %d: the definition's MaxWorkItems or the server's --max-work-items)", s.work, limit)
	h.log.Warn("instance exceeded its work-item limit; suspending it", "id", s.id, "limit", limit)
	s.work = 0
	return h.save(ctx, s, false, func(row *store.Instance) {
		row.State, row.SuspensionReason, row.SuspensionException = workflow.Suspended, msg, "WorkItemLimitExceeded"
	}, h.record(s, workflow.InstanceRecord, "Suspended", msg, ""))
}

// drive continues execution in the background, one slice at a time, releasing the instance
// lock between slices so management operations get in at work-item boundaries.
func (h *Host) drive(s *slot) {
	if s.driving {
		return
	}
	s.driving = true
	id := s.id
	started := h.goBackground(func() {
		for {
			s := h.acquire(id)
			more := false
			if s.wf != nil && s.rec != nil && s.rec.State == workflow.Active && h.ctx.Err() == nil {
				var err error
				more, err = h.execute(h.ctx, s, h.cfg.Slice)
				if err != nil && !errors.Is(err, context.Canceled) {
					h.executionFailed(id, err)
					more = false
				}
			}
			if !more {
				s.driving = false
			}
			h.release(s)
			if !more {
				return
			}
		}
	})
	if !started {
		s.driving = false // closing: recovery at the next start goes on from the last persist
	}
}

// markCompleted turns a row into a completed instance's: no image, bookmarks, timer or
// suspension any more; the variables keep their final values. exception names the exception
// that faulted it ("" for other completions).
func markCompleted(row *store.Instance, c workflow.Completion, reason, exception string) {
	row.State, row.Completion, row.CompletionReason, row.ExecutionStatus = workflow.Completed, c, reason, string(c)
	row.CompletionException = exception
	row.Image, row.Bookmarks, row.PendingTimer = nil, nil, time.Time{}
	row.SuspensionReason, row.SuspensionException, row.Failures = "", "", 0
}

// unhandled applies the unhandled-exception policy. cont reports that execution goes on.
func (h *Host) unhandled(ctx context.Context, s *slot, res engine.Result) (cont bool, err error) {
	exc := res.Exception
	name, msg := "Exception", "unhandled exception"
	if exc != nil {
		name, msg = exc.Name, exc.Message
	}
	h.log.Warn("unhandled exception", "id", s.id, "exception", name, "message", msg, "policy", h.cfg.Policy)
	switch h.cfg.Policy {
	case CancelPolicy:
		return true, s.wf.Cancel()
	case TerminatePolicy:
		// The fault is accepted: the next Run completes the instance Faulted.
		return true, s.wf.Fault()
	}
	// Abandon and AbandonAndSuspend: back to the last persisted point (for an instance not
	// persisted yet, its start). The tracking records of what ran are kept: they happened.
	// Staged management changes (e.g. the Unsuspend that led to this run) are committed with it.
	recs := h.drain(s)
	row := *s.rec
	if h.cfg.Policy == AbandonPolicy {
		reason := name + ": " + msg
		if runnableAt(&row, h.now()) {
			// The persisted point runs again by itself (a due timer, or it was executing):
			// not at once, or a failing instance would spin.
			row.Failures++
			delay := retryDelay(row.Failures)
			row.PendingTimer = h.now().Add(delay)
			reason += fmt.Sprintf(" (attempt %d; the next one in %v)", row.Failures, delay)
		}
		recs = append(recs, h.record(s, workflow.InstanceRecord, "Aborted", reason, ""))
	} else {
		row.State, row.SuspensionReason, row.SuspensionException = workflow.Suspended, msg, name
		recs = append(recs, h.record(s, workflow.InstanceRecord, "Suspended", msg, ""))
	}
	return false, h.commit(ctx, s, &row, recs, false)
}

// runnableAt reports whether an Active row would be executed again by itself at now.
func runnableAt(row *store.Instance, now time.Time) bool {
	if row.State != workflow.Active {
		return false
	}
	return row.ExecutionStatus == "Executing" || (!row.PendingTimer.IsZero() && !row.PendingTimer.After(now))
}

// unloadable suspends an instance whose image cannot be loaded (e.g. its definition is no
// longer registered) so it stops being picked up by timers and recovery, and says why.
func (h *Host) unloadable(ctx context.Context, s *slot, cause error) error {
	h.log.Error("instance cannot be loaded; suspending it", "id", s.id, "err", cause)
	row := *s.rec
	row.State, row.SuspensionReason, row.SuspensionException = workflow.Suspended, cause.Error(), "LoadFailed"
	if err := h.commit(ctx, s, &row, []workflow.Record{h.record(s, workflow.InstanceRecord, "Suspended", cause.Error(), "")}, false); err != nil {
		return err
	}
	return cause
}

// scheduleUnload unloads an idle Active instance once it has stayed idle for UnloadAfter. The
// unload is a background job like any other: after Close it does nothing. The pending timer
// holds only the id and the activity number: a reference to the slot would keep its row and
// image in memory for UnloadAfter after an earlier unload (by the budget, or the slot forgotten).
func (h *Host) scheduleUnload(s *slot) {
	h.idleLoaded(s)
	gen, id := s.idleGen, s.id
	h.cfg.afterFunc(h.cfg.UnloadAfter, func() {
		if !h.enter() {
			return
		}
		defer h.wg.Done()
		t := h.acquire(id)
		defer h.release(t)
		if t.idleGen == gen && t.wf != nil && !t.driving && t.wf.Status() == engine.StatusIdle {
			if err := h.unload(h.ctx, t); err != nil && h.ctx.Err() == nil {
				h.log.Error("unloading an idle instance failed", "id", id, "err", err)
			}
		}
	})
}

// unload drops the live runtime and releases the lease. What is not yet persisted (execution,
// staged changes) is saved in the same commit as the Unloaded record; without the runtime,
// staged changes are simply saved.
func (h *Host) unload(ctx context.Context, s *slot) error {
	switch {
	case s.wf == nil && s.unsaved():
		return h.save(ctx, s, false, nil)
	case s.wf == nil:
		return nil
	case s.unsaved():
		return h.save(ctx, s, false, nil, h.record(s, workflow.InstanceRecord, "Unloaded", "", ""))
	}
	return h.commitTrack(ctx, s, append(h.drain(s), h.record(s, workflow.InstanceRecord, "Unloaded", "", "")), false)
}
