package host

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/engine"
	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/workflow"
)

// CreateRequest asks for a new instance.
type CreateRequest struct {
	Definition string         // definition name ("Name" or "Package.Name")
	Version    string         // "" for the newest registered version
	ID         uuid.UUID      // uuid.Nil: the host chooses
	Inputs     map[string]any // decoded JSON values
	// CorrelationKey is the business key the instance is found by; "" for the one its
	// definition's CorrelationKey computes (if any). A key another stored instance holds is
	// refused with ErrExists.
	CorrelationKey string
}

// Instance is an instance as last persisted, as the host shows it.
type Instance struct {
	ID                  uuid.UUID
	Definition          workflow.Identity
	State               workflow.State
	Completion          workflow.Completion
	CompletionReason    string
	CompletionException string // the exception that faulted it ("" unless Faulted)
	SuspensionReason    string
	SuspensionException string
	Bookmarks           []string
	PendingTimer        time.Time // when the host next looks at it by itself (zero: never)
	ExecutionStatus     string
	CurrentState        string            // the current state of its outermost StateMachine ("" for none)
	CorrelationKey      string            // "" for none
	Parent              uuid.UUID         // the instance whose InvokeWorkflow started it (uuid.Nil: none)
	Properties          map[string]string // promoted properties at the last persist (nil: none)
	Variables           []byte            // JSON object, nil when none were persisted (or Query was not asked for them)
	Created, Updated    time.Time
}

func view(r *store.Instance) *Instance {
	return &Instance{ID: r.ID, Definition: r.Definition, State: r.State, Completion: r.Completion,
		CompletionReason: r.CompletionReason, CompletionException: r.CompletionException, SuspensionReason: r.SuspensionReason,
		SuspensionException: r.SuspensionException, Bookmarks: r.Bookmarks, PendingTimer: r.PendingTimer,
		ExecutionStatus: r.ExecutionStatus, CurrentState: r.CurrentState,
		CorrelationKey: r.CorrelationKey, Parent: r.Parent, Properties: r.Properties, Variables: r.Variables, Created: r.Created, Updated: r.Updated}
}

// Create starts a new instance of a registered definition and runs it until it first goes
// idle (or its inline budget is used up), then inserts it, already executed, in one commit.
// Either Create fails and leaves nothing, or the instance is durable: completed, idle, or
// persisted as executing and continued in the background (and by recovery, should that fail).
func (h *Host) Create(ctx context.Context, req CreateRequest) (uuid.UUID, error) {
	const op = "Create"
	if err := h.Authorize(ctx, op, Operator); err != nil {
		return uuid.Nil, err
	}
	def, err := h.defs.Lookup(req.Definition, req.Version)
	if err != nil {
		return uuid.Nil, &Error{Kind: ErrDefinitionNotFound, Operation: op, Detail: detail(err, engine.ErrNotFound)}
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
		return uuid.Nil, refuse(ErrExists, id, op, "")
	case !errors.Is(err, store.ErrNotFound):
		return uuid.Nil, h.unavailable(id, op, err)
	}
	wf, err := engine.Start(def, id, req.Inputs, h.now())
	if err != nil {
		return uuid.Nil, &Error{Kind: ErrInvalidInput, Instance: id, Operation: op, Detail: detail(err, engine.ErrInvalidInput)}
	}
	// The start is the persisted point an exception in the first run goes back to.
	row := &store.Instance{ID: id, State: workflow.Active, CorrelationKey: req.CorrelationKey}
	if row.CorrelationKey == "" {
		row.CorrelationKey = wf.CorrelationKey()
	}
	if err := h.snapshotInto(row, wf); err != nil {
		return uuid.Nil, err
	}
	created := h.record(s, workflow.InstanceRecord, "Created", "", PrincipalFrom(ctx).String())
	created.Data = fmt.Sprintf(`{"definition":%q}`, def.Identity.String())
	s.rec, s.fresh, s.pending, s.saved = row, true, []workflow.Record{created}, time.Now()
	h.setLive(s, wf)
	if err := h.run(ctx, s); err != nil {
		// A later commit of a long first run can fail after the instance was inserted: then it
		// is durable and runnable, and recovery goes on with it.
		if _, gerr := h.store.Get(ctx, id); gerr == nil {
			h.executionFailed(id, err)
			return id, nil
		}
		return uuid.Nil, withOperation(err, op)
	}
	return id, nil
}

// ResumeBookmark delivers payload to the instance's bookmark and runs it, naming the principal
// ctx carries as who resumed it. The resumption is durable before ResumeBookmark returns.
func (h *Host) ResumeBookmark(ctx context.Context, id uuid.UUID, bookmark string, payload any) error {
	return h.noteForward(ctx, retryConflicts(func() error { return h.resumeBookmark(ctx, id, bookmark, payload) }))
}

func (h *Host) resumeBookmark(ctx context.Context, id uuid.UUID, bookmark string, payload any) error {
	const op = "ResumeBookmark"
	if err := h.Authorize(ctx, op, Operator); err != nil {
		return err
	}
	s := h.acquire(id)
	defer h.release(s)
	ctx = context.WithoutCancel(ctx) // once started, the resumption commits or leaves nothing
	if err := h.readRow(ctx, s); err != nil {
		return h.rowError(s, op, err)
	}
	switch s.rec.State {
	case workflow.Suspended:
		return refuse(ErrSuspended, id, op, "")
	case workflow.Completed:
		return &Error{Kind: ErrCompleted, Instance: id, Operation: op, Completion: s.rec.Completion}
	}
	wasLoaded := s.wf != nil
	if err := h.load(s); err != nil {
		return withOperation(h.unloadable(ctx, s, err), op)
	}
	if err := s.wf.ResumeBookmark(bookmark, payload); err != nil {
		has := strings.Join(s.wf.Bookmarks(), ", ")
		if !wasLoaded {
			// Loaded only for this refused resumption, which changed nothing: drop it again so
			// it does not stay in memory with no unload scheduled.
			h.setLive(s, nil)
		}
		switch {
		case errors.Is(err, engine.ErrBookmarkNotFound):
			return refuse(ErrBookmarkNotFound, id, op, fmt.Sprintf("no bookmark %q (it has: %s)", bookmark, has))
		case errors.Is(err, engine.ErrInvalidPayload):
			return refuse(ErrInvalidInput, id, op, err.Error())
		}
		return err
	}
	// The engine recorded the resumption; say who asked for it.
	recs := h.drain(s)
	principal := PrincipalFrom(ctx).String()
	for i := range recs {
		if recs[i].Kind == workflow.BookmarkRecord {
			recs[i].Principal = principal
		}
	}
	h.stage(s, nil, recs...)
	// Executed to idle (persisted there), or persisted as still executing.
	return withOperation(h.runOrSave(ctx, s), op)
}

// withOperation names op in a host error that does not name its operation yet.
func withOperation(err error, op string) error {
	var he *Error
	if errors.As(err, &he) && he.Operation == "" {
		he.Operation = op
	}
	return err
}

// Get reads an instance as last persisted.
func (h *Host) Get(ctx context.Context, id uuid.UUID) (*Instance, error) {
	if err := h.Authorize(ctx, "GetInstance", Reader); err != nil {
		return nil, err
	}
	return h.get(ctx, id)
}

// get is Get for a caller already authorized.
func (h *Host) get(ctx context.Context, id uuid.UUID) (*Instance, error) {
	r, err := h.store.Get(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, refuse(ErrNotFound, id, "GetInstance", "")
	case err != nil:
		return nil, h.unavailable(id, "GetInstance", err)
	}
	return view(r), nil
}

// Records reads an instance's tracking records with Seq > after. An id that has no records
// and no instance (never created, or purged with its records) is ErrNotFound.
func (h *Host) Records(ctx context.Context, id uuid.UUID, after int64) ([]workflow.Record, error) {
	const op = "GetTrackingRecords"
	if err := h.Authorize(ctx, op, Reader); err != nil {
		return nil, err
	}
	recs, err := h.store.Records(ctx, id, after)
	if err != nil {
		return nil, h.unavailable(id, op, err)
	}
	if len(recs) == 0 {
		switch _, err := h.store.Get(ctx, id); {
		case errors.Is(err, store.ErrNotFound):
			return nil, refuse(ErrNotFound, id, op, "")
		case err != nil:
			return nil, h.unavailable(id, op, err)
		}
	}
	return recs, nil
}

// detail is an engine error's text without the kind's own words, which the host's Error
// already says ("definition not found: Nope", not "definition not found: engine: definition
// not found: Nope").
func detail(err, kind error) string {
	return strings.TrimPrefix(err.Error(), kind.Error()+": ")
}

// FindByKey returns the id of the instance whose correlation key is key (ErrNotFound when no
// stored instance has it): what an operation that takes an instance id accepts in its place.
func (h *Host) FindByKey(ctx context.Context, key string) (uuid.UUID, error) {
	const op = "FindByKey"
	if err := h.Authorize(ctx, op, Reader); err != nil {
		return uuid.Nil, err
	}
	if key == "" {
		return uuid.Nil, &Error{Kind: ErrInvalidInput, Operation: op, Detail: "an empty correlation key names no instance"}
	}
	page, err := h.store.QueryInstances(ctx, store.PageQuery{Filter: store.Filter{CorrelationKey: key}, Size: 1})
	switch {
	case err != nil:
		return uuid.Nil, h.unavailable(uuid.Nil, op, err)
	case len(page.Instances) == 0:
		return uuid.Nil, &Error{Kind: ErrNotFound, Operation: op, Detail: fmt.Sprintf("no instance has the correlation key %q", key)}
	}
	return page.Instances[0].ID, nil
}
