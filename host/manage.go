package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/wimp-project/wimp/engine"
	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/workflow"
)

// Manage applies a management command. Under the instance lock it asks the command's rules
// for a decision on the instance's condition, applies the effect to the live or persisted
// instance and commits the change with its tracking record (naming the principal ctx
// carries) before returning: a nil error means the change is durable. Refusals and failures
// are *Error values.
func (h *Host) Manage(ctx context.Context, cmd Command) error {
	if err := h.Authorize(ctx, cmd.Operation, cmd.Requires); err != nil {
		return err
	}
	return h.noteForward(ctx, retryConflicts(func() error { return h.manage(ctx, cmd) }))
}

func (h *Host) manage(ctx context.Context, cmd Command) error {
	s := h.acquire(cmd.Instance)
	defer h.release(s)
	d, err := h.decide(ctx, s, cmd)
	if err != nil {
		return err
	}
	// Once decided, the operation runs to its end even if the caller goes away: it either
	// commits or leaves nothing behind.
	return withOperation(h.apply(context.WithoutCancel(ctx), s, cmd, d, PrincipalFrom(ctx).String()), cmd.Operation)
}

// conflictRetries is how many times an operation is decided again after its commit found the
// instance changed since it was read (another node's change between the read and the commit).
const conflictRetries = 3

// retryConflicts runs op again while it fails with store.ErrConflict, at most conflictRetries
// more times. A failed commit changed nothing and dropped the slot's copy of the row, so the
// next try reads and decides on the row as it now is.
func retryConflicts(op func() error) error {
	err := op()
	for n := 0; n < conflictRetries && errors.Is(err, store.ErrConflict); n++ {
		err = op()
	}
	return err
}

// Preview is Manage without the effect: under the instance lock it decides the command on
// the instance's condition and returns the refusal Manage would return, or nil when the
// command would be applied. Nothing is changed or recorded (a bulk job's dry run).
func (h *Host) Preview(ctx context.Context, cmd Command) error {
	if err := h.Authorize(ctx, cmd.Operation, cmd.Requires); err != nil {
		return err
	}
	s := h.acquire(cmd.Instance)
	defer h.release(s)
	_, err := h.decide(ctx, s, cmd)
	return err
}

// decide asks the command's rules for a decision on the locked instance's condition.
func (h *Host) decide(ctx context.Context, s *slot, cmd Command) (Decision, error) {
	cond := Condition{}
	switch err := h.readRow(ctx, s); {
	case err == nil:
		cond = Condition{Exists: true, State: s.rec.State, Completion: s.rec.Completion, Identity: s.rec.Definition}
	case !errors.Is(err, store.ErrNotFound):
		return Decision{}, h.unavailable(cmd.Instance, cmd.Operation, err)
	}
	cond.CanUpdate = func(to workflow.Identity) error { return h.canUpdate(cond.Identity, to) }
	if cmd.Rules == nil {
		return Decision{}, fmt.Errorf("host: command %s has no rules", cmd.Operation)
	}
	d := cmd.Rules(cond)
	if d.Refuse != nil {
		return d, &Error{Kind: d.Refuse, Instance: cmd.Instance, Operation: cmd.Operation, Completion: cond.Completion, Detail: d.Why}
	}
	return d, nil
}

// operationData is the Data of a management operation's tracking record.
type operationData struct {
	Operation string `json:"operation"`
	Request   string `json:"request,omitempty"` // the X-Request-Id of the request that asked
	Job       string `json:"job,omitempty"`     // the bulk job that applied it
}

// apply carries out a decided effect on the locked slot.
func (h *Host) apply(ctx context.Context, s *slot, cmd Command, d Decision, principal string) error {
	rec := func(name, reason string) workflow.Record {
		r := h.record(s, workflow.InstanceRecord, name, reason, principal)
		b, _ := json.Marshal(operationData{cmd.Operation, RequestIDFrom(ctx), jobFrom(ctx)})
		r.Data = string(b)
		return r
	}
	active := func(row *store.Instance) {
		row.State, row.SuspensionReason, row.SuspensionException = workflow.Active, "", ""
	}

	switch d.Effect {
	case NoChange:
		return h.commitTrack(ctx, s, []workflow.Record{rec(cmd.Operation, "")}, true)

	case Execute:
		h.stage(s, nil, rec(cmd.Operation, ""))
		return h.runOrSave(ctx, s)

	case Suspend:
		// We hold the instance lock, so execution is between two work items: it stops here,
		// and the suspended instance is persisted and unloaded in one commit.
		h.stage(s, func(row *store.Instance) {
			row.State, row.SuspensionReason, row.SuspensionException = workflow.Suspended, cmd.Reason, ""
		}, rec("Suspended", cmd.Reason))
		return h.unload(ctx, s)

	case Resume:
		if err := h.load(s); err != nil {
			return h.unloadable(ctx, s, err)
		}
		s.wf.FireDueTimers(h.now()) // timers that fell due while suspended fire now, once
		h.stage(s, active, rec("Unsuspended", ""))
		return h.runOrSave(ctx, s)

	case Cancel:
		if err := h.load(s); err != nil {
			return h.unloadable(ctx, s, err)
		}
		if err := s.wf.Cancel(); err != nil {
			return err
		}
		h.stage(s, active, rec("CancelRequested", ""))
		return h.runOrSave(ctx, s)

	case Terminate:
		// No handlers run: the image is simply closed. Records the engine produced since the
		// last persist are kept.
		recs := append(h.drain(s), rec("Terminated", cmd.Reason))
		row := *s.rec
		markCompleted(&row, workflow.Terminated, cmd.Reason, "")
		var k kin // the children the persisted image waits for are terminated with it
		for _, c := range h.childrenOf(s) {
			k.orphans = append(k.orphans, engine.Orphan{ID: c, Terminate: true})
		}
		return h.commitKin(ctx, s, &row, recs, false, k)

	case Abandon:
		recs := append(h.drain(s), rec("Aborted", cmd.Reason))
		wasLoaded := s.wf != nil
		// The record is committed against the version decided on (and its lease), so that
		// another node's change since refuses it and the decision is made again: without them
		// an Abandon decided on an Active row could follow another node's completion of it.
		decided := *s.rec
		h.discard(s)
		s.rec = &decided
		err := h.commitTrack(ctx, s, recs, false)
		s.rec = nil // what was staged on the copy is gone: read the row as it now is
		if err != nil {
			return err
		}
		// As in WF4, the last persisted point becomes runnable again if it was executing.
		if err := h.readRow(ctx, s); err != nil {
			return h.rowError(s, "", err)
		}
		if wasLoaded && s.rec.State == workflow.Active && s.rec.ExecutionStatus == "Executing" {
			h.background(s.id, func(s *slot) error { return h.run(h.ctx, s) })
		}
		return nil

	case Update:
		return h.update(ctx, s, *d.Identity, rec)
	}
	return fmt.Errorf("host: unhandled effect %v", d.Effect)
}

// update switches the instance to the definition with identity to (the rules have checked
// that it is registered and declares it can update the current one; the engine checks that
// the instance's live activities fit it), then runs it if Active.
func (h *Host) update(ctx context.Context, s *slot, to workflow.Identity, rec func(name, reason string) workflow.Record) error {
	refused := func(why string) error { return refuse(ErrUpdateRefused, s.id, "", why) }
	def, err := h.defs.Get(to)
	if err != nil {
		return refused(err.Error())
	}
	wasLoaded := s.wf != nil
	if err := h.load(s); err != nil {
		return refused(err.Error())
	}
	if err := s.wf.Update(def); err != nil {
		if !wasLoaded {
			// Loaded only to try: drop the (unchanged) image again, keeping the engine's
			// UpdateFailed record, so a refused update does not pin the instance in memory.
			if terr := h.commitTrack(ctx, s, h.drain(s), false); terr != nil {
				h.log.Error("tracking a refused update failed", "id", s.id, "err", terr)
			}
		}
		return refused(err.Error())
	}
	h.stage(s, nil, rec("Updated", to.String()))
	if s.rec.State == workflow.Active {
		return h.runOrSave(ctx, s)
	}
	return h.unload(ctx, s) // a suspended instance: persisted and out of memory
}

// runOrSave gives an Active instance its chance to execute, committing the staged operation
// with the first persist of that execution (idle, completion, a Persist point, or the inline
// budget's end); anything still unsaved afterwards is saved. An error means nothing of the
// operation was committed.
func (h *Host) runOrSave(ctx context.Context, s *slot) error {
	if err := h.run(ctx, s); err != nil {
		return err
	}
	if s.rec != nil && s.unsaved() {
		return h.save(ctx, s, true, nil)
	}
	return nil
}

// canUpdate: a registered definition with identity `to` that declares it can update `from`.
func (h *Host) canUpdate(from, to workflow.Identity) error {
	if _, err := h.defs.Get(to); err != nil {
		return fmt.Errorf("no definition %s is registered", to)
	}
	if !h.defs.CanUpdate(from, to) {
		return fmt.Errorf("definition %s does not declare that it can update %s", to, from)
	}
	return nil
}
