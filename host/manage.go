package host

import (
	"context"
	"errors"
	"fmt"

	"github.com/wimp-project/wimp/protocol"
	"github.com/wimp-project/wimp/store"
)

// Manage applies an MS-WFIM command (protocol.Manager). Under the instance lock it decides
// with the state table, applies the effect to the live or persisted instance and commits the
// change with its tracking record before returning: a nil error means the change is durable.
func (h *Host) Manage(ctx context.Context, cmd protocol.Command) error {
	s := h.acquire(cmd.InstanceID)
	defer h.release(s)
	st := protocol.Status{}
	switch err := h.readRow(ctx, s); {
	case err == nil:
		st = protocol.Status{Exists: true, State: s.rec.State, Completion: s.rec.Completion, Identity: s.rec.Definition}
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	d := protocol.Decide(cmd, st, h.canUpdate)
	if d.Fault != nil {
		return d.Fault
	}
	rec := func(name, reason string) store.Record {
		r := h.record(s, store.InstanceRecord, name, reason, cmd.Principal)
		r.Data = fmt.Sprintf(`{"operation":%q}`, cmd.Op.Name)
		return r
	}

	// Once decided, the operation runs to its end even if the caller goes away: it either
	// commits or leaves nothing behind.
	ctx = context.WithoutCancel(ctx)
	active := func(row *store.Instance) {
		row.State, row.SuspensionReason, row.SuspensionException = store.Active, "", ""
	}

	switch d.Effect {
	case protocol.NoChange:
		return h.commitTrack(ctx, s, []store.Record{rec(cmd.Op.Name, "")})

	case protocol.Execute:
		h.stage(s, nil, rec(cmd.Op.Name, ""))
		return h.runOrSave(ctx, s)

	case protocol.SuspendIt:
		// We hold the instance lock, so execution is between two work items: it stops here,
		// and the suspended instance is persisted and unloaded in one commit.
		h.stage(s, func(row *store.Instance) {
			row.State, row.SuspensionReason, row.SuspensionException = store.Suspended, cmd.ReasonText(), ""
		}, rec("Suspended", cmd.ReasonText()))
		return h.unload(ctx, s)

	case protocol.Resume:
		if err := h.load(s); err != nil {
			return h.unloadable(ctx, s, err)
		}
		s.wf.FireDueTimers(h.now()) // timers that fell due while suspended fire now, once
		h.stage(s, active, rec("Unsuspended", ""))
		return h.runOrSave(ctx, s)

	case protocol.CancelIt:
		if err := h.load(s); err != nil {
			return h.unloadable(ctx, s, err)
		}
		if err := s.wf.Cancel(); err != nil {
			return err
		}
		h.stage(s, active, rec("CancelRequested", ""))
		return h.runOrSave(ctx, s)

	case protocol.TerminateIt:
		// No handlers run: the image is simply closed. Records the engine produced since the
		// last persist are kept.
		recs := append(h.drain(s), rec("Terminated", cmd.ReasonText()))
		s.wf = nil
		row := *s.rec
		markCompleted(&row, store.Terminated, cmd.ReasonText())
		return h.commit(ctx, s, &row, recs)

	case protocol.AbandonIt:
		recs := append(h.drain(s), rec("Aborted", cmd.ReasonText()))
		wasLoaded := s.wf != nil
		h.discard(s)
		if err := h.commitTrack(ctx, s, recs); err != nil {
			return err
		}
		// As in WF4, the last persisted point becomes runnable again if it was executing.
		if err := h.readRow(ctx, s); err != nil {
			return err
		}
		if wasLoaded && s.rec.State == store.Active && s.rec.ExecutionStatus == "Executing" {
			h.background(s.id, func(s *slot) error { return h.run(h.ctx, s) })
		}
		return nil

	case protocol.UpdateIt:
		if d.NewIdentity != nil {
			def, err := h.defs.Get(toEngine(*d.NewIdentity))
			if err != nil {
				return protocol.UpdateFailed(cmd.InstanceID, err.Error())
			}
			wasLoaded := s.wf != nil
			if err := h.load(s); err != nil {
				return protocol.UpdateFailed(cmd.InstanceID, err.Error())
			}
			if err := s.wf.Update(def); err != nil {
				if !wasLoaded {
					// Loaded only to try: drop the (unchanged) image again, keeping the engine's
					// UpdateFailed record, so a refused update does not pin the instance in memory.
					recs := h.drain(s)
					s.wf = nil
					if terr := h.commitTrack(ctx, s, recs); terr != nil {
						h.log.Error("tracking a refused update failed", "id", s.id, "err", terr)
					}
				}
				return protocol.UpdateFailed(cmd.InstanceID, err.Error())
			}
			h.stage(s, nil, rec("Updated", protocol.FormatIdentity(*d.NewIdentity)))
		} else {
			h.stage(s, nil, rec(cmd.Op.Name, ""))
		}
		if d.Run {
			return h.runOrSave(ctx, s)
		}
		return h.unload(ctx, s) // a suspended instance: persisted and out of memory
	}
	return fmt.Errorf("host: unhandled effect %v", d.Effect)
}

// runOrSave gives an Active instance its chance to execute, committing the staged operation
// with the first persist of that execution (idle, completion, a Persist point, or the inline
// budget's end); anything still staged afterwards is saved. An error means nothing of the
// operation was committed.
func (h *Host) runOrSave(ctx context.Context, s *slot) error {
	if err := h.run(ctx, s); err != nil {
		return err
	}
	if s.rec != nil && s.dirty {
		return h.save(ctx, s, nil)
	}
	return nil
}

// canUpdate is the protocol's UpdateCheck: a registered definition with identity `to` that
// declares it can update from `from`.
func (h *Host) canUpdate(from, to store.Identity) error {
	if _, err := h.defs.Get(toEngine(to)); err != nil {
		return fmt.Errorf("no definition %s is registered", protocol.FormatIdentity(to))
	}
	if !h.defs.CanUpdate(toEngine(from), toEngine(to)) {
		return fmt.Errorf("definition %s does not declare that it can update %s",
			protocol.FormatIdentity(to), protocol.FormatIdentity(from))
	}
	return nil
}
