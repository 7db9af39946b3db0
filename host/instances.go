package host

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/engine"
	"github.com/wimp-project/wimp/hosting"
	"github.com/wimp-project/wimp/protocol"
	"github.com/wimp-project/wimp/store"
)

// resumeOp names ResumeBookmark in faults shared with MS-WFIM (InstanceSuspended).
var resumeOp = protocol.Op{Name: hosting.OpResumeBookmark}

// Create starts a new instance of a registered definition and runs it until it first goes
// idle (or its inline budget is used up). The instance is durable before Create returns.
func (h *Host) Create(ctx context.Context, req hosting.CreateRequest, principal string) (uuid.UUID, error) {
	def, err := h.defs.Lookup(req.Definition, req.Version)
	if err != nil {
		return uuid.Nil, fmt.Errorf("%w: %v", hosting.ErrDefinitionNotFound, err)
	}
	id := req.ID
	if id == uuid.Nil {
		id = uuid.New()
	}
	s := h.acquire(id)
	defer h.release(s)
	ctx = context.WithoutCancel(ctx) // once started, the creation commits or leaves nothing
	switch err := h.readRow(ctx, s); {
	case err == nil:
		return uuid.Nil, fmt.Errorf("%w: %s", hosting.ErrInstanceExists, id)
	case !errors.Is(err, store.ErrNotFound):
		return uuid.Nil, err
	}
	wf, err := engine.Start(def, id, req.Inputs, h.now())
	if err != nil {
		return uuid.Nil, fmt.Errorf("%w: %v", hosting.ErrInvalidInput, err)
	}
	row := &store.Instance{ID: id, State: store.Active}
	if err := h.snapshotInto(row, wf); err != nil {
		return uuid.Nil, err
	}
	created := h.record(s, store.InstanceRecord, "Created", "", principal)
	created.Data = fmt.Sprintf(`{"definition":%q}`, def.Identity.String())
	if err := h.store.Commit(ctx, store.Change{Op: store.Insert, Instance: row, Records: []store.Record{created}}); err != nil {
		if errors.Is(err, store.ErrExists) {
			return uuid.Nil, fmt.Errorf("%w: %s", hosting.ErrInstanceExists, id)
		}
		return uuid.Nil, err
	}
	s.rec, s.wf = row, wf
	if err := h.run(ctx, s); err != nil {
		h.log.Error("first execution failed", "id", id, "err", err)
	}
	return id, nil
}

// ResumeBookmark delivers payload to the instance's bookmark and runs it. A suspended instance
// answers InstanceSuspended; an unknown bookmark ErrBookmarkNotFound naming the ones it has.
func (h *Host) ResumeBookmark(ctx context.Context, id uuid.UUID, bookmark string, payload any, principal string) error {
	s := h.acquire(id)
	defer h.release(s)
	ctx = context.WithoutCancel(ctx) // once started, the resumption commits or leaves nothing
	if err := h.readRow(ctx, s); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return protocol.InstanceNotFound(id)
		}
		return err
	}
	if f := protocol.Decide(protocol.Command{Op: resumeOp, InstanceID: id},
		protocol.Status{Exists: true, State: s.rec.State, Completion: s.rec.Completion}, nil).Fault; f != nil {
		return f
	}
	wasLoaded := s.wf != nil
	if err := h.load(s); err != nil {
		return h.unloadable(ctx, s, err)
	}
	if err := s.wf.ResumeBookmark(bookmark, payload); err != nil {
		has := strings.Join(s.wf.Bookmarks(), ", ")
		if !wasLoaded {
			// Loaded only for this refused resumption, which changed nothing: drop it again so
			// it does not stay in memory with no unload scheduled.
			s.wf = nil
		}
		switch {
		case errors.Is(err, engine.ErrBookmarkNotFound):
			return fmt.Errorf("%w: instance %s has no bookmark %q (it has: %s)", hosting.ErrBookmarkNotFound,
				id, bookmark, has)
		case errors.Is(err, engine.ErrInvalidPayload):
			return fmt.Errorf("%w: %v", hosting.ErrInvalidInput, err)
		}
		return err
	}
	// The engine recorded the resumption; say who asked for it.
	recs := h.drain(s)
	for i := range recs {
		if recs[i].Kind == store.BookmarkRecord {
			recs[i].Principal = principal
		}
	}
	h.stage(s, nil, recs...)
	// The resumption is durable before the reply: executed to idle (persisted there), or
	// persisted as still executing.
	return h.runOrSave(ctx, s)
}

// Get reads an instance as last persisted.
func (h *Host) Get(ctx context.Context, id uuid.UUID) (*store.Instance, error) {
	inst, err := h.store.Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, protocol.InstanceNotFound(id)
	}
	return inst, err
}

// List lists instances as last persisted.
func (h *Host) List(ctx context.Context, q store.Query) ([]*store.Instance, error) {
	return h.store.List(ctx, q)
}

// Records reads an instance's tracking records.
func (h *Host) Records(ctx context.Context, id uuid.UUID, after int64) ([]store.Record, error) {
	return h.store.Records(ctx, id, after)
}
