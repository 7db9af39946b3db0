package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/wimp-project/wimp/engine"
	"github.com/wimp-project/wimp/store"
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
	s.wf, s.dirty = wf, false
	return nil
}

// discard throws the live runtime and any staged change away; the next access reloads the
// last persisted row.
func (h *Host) discard(s *slot) {
	s.wf, s.rec, s.dirty, s.pending = nil, nil, false, nil
}

// stage changes the in-memory row and queues tracking records; the next save commits both
// together with whatever execution did meanwhile (one transaction), and a failure discards them.
func (h *Host) stage(s *slot, mutate func(*store.Instance), recs ...store.Record) {
	row := *s.rec
	if mutate != nil {
		mutate(&row)
	}
	s.rec, s.dirty = &row, true
	s.pending = append(s.pending, recs...)
}

// save commits the slot's row — with the live runtime's image, bookmarks, timer and
// variables when loaded, then mutate applied — plus the engine's pending tracking records
// and extra, in one durable transaction. On failure the live runtime is discarded, so memory
// never runs ahead of the store.
func (h *Host) save(ctx context.Context, s *slot, mutate func(*store.Instance), extra ...store.Record) error {
	row := *s.rec
	var recs []store.Record
	if s.wf != nil {
		if err := h.snapshotInto(&row, s.wf); err != nil {
			h.discard(s)
			return err
		}
		recs = h.drain(s)
		recs = append(recs, h.record(s, store.InstanceRecord, "Persisted", "", ""))
	}
	if mutate != nil {
		mutate(&row)
	}
	recs = append(recs, extra...)
	return h.commit(ctx, s, &row, recs)
}

// commit writes row with the staged records and recs; on failure the slot is discarded.
func (h *Host) commit(ctx context.Context, s *slot, row *store.Instance, recs []store.Record) error {
	recs = append(s.pending, recs...)
	if err := h.store.Commit(ctx, store.Change{Op: store.Update, Instance: row, Records: recs}); err != nil {
		h.discard(s)
		return fmt.Errorf("persisting instance %s: %w", s.id, err)
	}
	s.rec, s.dirty, s.pending = row, false, nil
	if !row.PendingTimer.IsZero() && row.State == store.Active {
		h.nudgeTimers()
	}
	return nil
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
	row.PendingTimer = time.Time{}
	if t, ok := wf.NextTimer(); ok {
		row.PendingTimer = t.UTC()
	}
	row.Definition = fromEngine(wf.Identity())
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

// drain converts the engine's pending tracking records.
func (h *Host) drain(s *slot) []store.Record {
	if s.wf == nil {
		return nil
	}
	var out []store.Record
	for _, r := range s.wf.DrainRecords() {
		rec := h.record(s, store.RecordKind(r.Kind), r.Name, r.Reason, "")
		rec.Activity, rec.Data = r.Activity, r.Data
		out = append(out, rec)
	}
	return out
}

func (h *Host) record(s *slot, kind store.RecordKind, name, reason, principal string) store.Record {
	return store.Record{InstanceID: s.id, Time: h.now(), Kind: kind, Name: name, Reason: reason, Principal: principal}
}

// run gives a loaded or persisted Active instance a chance to execute: up to the inline
// budget now, then (if there is still work) durably persisted and continued in the background.
// It must be called with the instance lock held.
func (h *Host) run(ctx context.Context, s *slot) error {
	if err := h.readRow(ctx, s); err != nil {
		return err
	}
	if s.rec.State != store.Active {
		return nil
	}
	if err := h.load(s); err != nil {
		return h.unloadable(ctx, s, err)
	}
	more, err := h.execute(ctx, s, h.cfg.InlineBudget)
	if err != nil || !more {
		return err
	}
	if err := h.save(ctx, s, nil); err != nil {
		return err
	}
	h.drive(s)
	return nil
}

// execute runs up to budget work items, persisting at Persist points, on idle and on
// completion, and applying the unhandled-exception policy. more reports remaining work.
func (h *Host) execute(ctx context.Context, s *slot, budget int) (more bool, err error) {
	s.idleGen++
	for budget > 0 {
		if err := ctx.Err(); err != nil {
			return true, err
		}
		res := s.wf.Run(h.now(), min(h.cfg.Slice, budget))
		budget -= max(res.WorkItems, 1)
		if res.WorkItems > 0 {
			s.dirty = true
		}
		switch res.Kind {
		case engine.ResultRunnable:
		case engine.ResultPersistRequested:
			if err := h.save(ctx, s, nil); err != nil {
				return false, err
			}
		case engine.ResultIdle:
			if s.rec.State != store.Active || h.cfg.UnloadAfter < 0 {
				return false, h.unload(ctx, s) // persists and unloads in one commit
			}
			if s.dirty {
				if err := h.save(ctx, s, nil); err != nil {
					return false, err
				}
			}
			h.scheduleUnload(s)
			return false, nil
		case engine.ResultCompleted:
			return false, h.complete(ctx, s, res)
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

// drive continues execution in the background, one slice at a time, releasing the instance
// lock between slices so management operations get in at work-item boundaries.
func (h *Host) drive(s *slot) {
	if s.driving {
		return
	}
	s.driving = true
	id := s.id
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		for {
			s := h.acquire(id)
			more := false
			if s.wf != nil && s.rec != nil && s.rec.State == store.Active && h.ctx.Err() == nil {
				var err error
				more, err = h.execute(h.ctx, s, h.cfg.Slice)
				if err != nil && !errors.Is(err, context.Canceled) {
					h.log.Error("execution failed", "id", id, "err", err)
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
	}()
}

// complete persists a completed instance: no image, bookmarks or timers any more; the
// variables keep their final values.
func (h *Host) complete(ctx context.Context, s *slot, res engine.Result) error {
	err := h.save(ctx, s, func(row *store.Instance) {
		markCompleted(row, store.Completion(res.Completion), res.Reason)
	})
	s.wf = nil
	return err
}

// markCompleted turns a row into a completed instance's: no image, bookmarks, timer or
// suspension any more; the variables keep their final values.
func markCompleted(row *store.Instance, c store.Completion, reason string) {
	row.State, row.Completion, row.CompletionReason, row.ExecutionStatus = store.Completed, c, reason, string(c)
	row.Image, row.Bookmarks, row.PendingTimer = nil, nil, time.Time{}
	row.SuspensionReason, row.SuspensionException = "", ""
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
	// Abandon and AbandonAndSuspend: back to the last persisted point. The tracking records
	// of what ran are kept: they happened.
	// The row keeps its last persisted image; staged management changes (e.g. the Unsuspend
	// that led to this run) are committed with it.
	recs := h.drain(s)
	s.wf = nil
	row := *s.rec
	if h.cfg.Policy == AbandonPolicy {
		recs = append(recs, h.record(s, store.InstanceRecord, "Aborted", name+": "+msg, ""))
	} else {
		row.State, row.SuspensionReason, row.SuspensionException = store.Suspended, msg, name
		recs = append(recs, h.record(s, store.InstanceRecord, "Suspended", msg, ""))
	}
	return false, h.commit(ctx, s, &row, recs)
}

// unloadable suspends an instance whose image cannot be loaded (e.g. its definition is no
// longer registered) so it stops being picked up by timers and recovery, and says why.
func (h *Host) unloadable(ctx context.Context, s *slot, cause error) error {
	h.log.Error("instance cannot be loaded; suspending it", "id", s.id, "err", cause)
	row := *s.rec
	row.State, row.SuspensionReason, row.SuspensionException = store.Suspended, cause.Error(), "LoadFailed"
	if err := h.commit(ctx, s, &row, []store.Record{h.record(s, store.InstanceRecord, "Suspended", cause.Error(), "")}); err != nil {
		return err
	}
	return cause
}

// commitTrack appends tracking records alone, for events that change no instance state.
func (h *Host) commitTrack(ctx context.Context, s *slot, recs []store.Record) error {
	if len(recs) == 0 {
		return nil
	}
	return h.store.Commit(ctx, store.Change{Op: store.Track, Instance: &store.Instance{ID: s.id}, Records: recs})
}

// scheduleUnload unloads an idle Active instance once it has stayed idle for UnloadAfter.
func (h *Host) scheduleUnload(s *slot) {
	gen, id := s.idleGen, s.id
	time.AfterFunc(h.cfg.UnloadAfter, func() {
		if h.ctx.Err() != nil {
			return
		}
		t := h.acquire(id)
		defer h.release(t)
		if t == s && t.idleGen == gen && t.wf != nil && !t.driving && t.wf.Status() == engine.StatusIdle {
			if err := h.unload(h.ctx, t); err != nil {
				h.log.Error("unloading an idle instance failed", "id", id, "err", err)
			}
		}
	})
}

// unload drops the live runtime. What is not yet persisted (execution, staged changes) is
// saved in the same commit as the Unloaded record; without the runtime, staged changes are
// simply saved.
func (h *Host) unload(ctx context.Context, s *slot) error {
	unloaded := h.record(s, store.InstanceRecord, "Unloaded", "", "")
	var err error
	switch {
	case s.wf == nil && s.dirty:
		err = h.save(ctx, s, nil)
	case s.wf == nil:
	case s.dirty:
		err = h.save(ctx, s, nil, unloaded)
	default:
		err = h.commitTrack(ctx, s, append(h.drain(s), unloaded))
	}
	s.wf = nil
	return err
}

func fromEngine(id engine.Identity) store.Identity {
	return store.Identity{Name: id.Name, Package: id.Package, Version: id.Version}
}

func toEngine(id store.Identity) engine.Identity {
	return engine.Identity{Name: id.Name, Package: id.Package, Version: id.Version}
}
