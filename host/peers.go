package host

import (
	"context"
	"errors"
	"sync"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/workflow"
)

// Operations that do not come as a client's request — a bulk job's items, the dashboard's
// actions — reach the node holding their instance through Peers (README, "Running several
// nodes"): Do applies a Request here, and when another live node holds the instance, asks
// that node to apply it as the same principal. (A client's SOAP request is forwarded as it
// came instead, by the server: cluster.go.)

// Request is one operation on one instance by name, in the form another node can be asked
// to apply: a BulkContract operation (Suspend, Unsuspend, Run, Cancel, Terminate, Abandon,
// Update) or ResumeBookmark.
type Request struct {
	Operation string             `json:"operation"`
	Instance  uuid.UUID          `json:"instance"`
	Reason    string             `json:"reason,omitempty"`
	Identity  *workflow.Identity `json:"identity,omitempty"` // Update: the definition to move to
	Bookmark  string             `json:"bookmark,omitempty"` // ResumeBookmark
	Payload   any                `json:"payload,omitempty"`  // ResumeBookmark: a JSON value
	DryRun    bool               `json:"dryRun,omitempty"`   // decide and report, change nothing
	Job       uuid.UUID          `json:"job,omitzero"`       // the bulk job asking (its tracking records name it)
}

// OpResumeBookmark is the Request.Operation that resumes Request.Bookmark.
const OpResumeBookmark = "ResumeBookmark"

// Peers asks another node to apply a Request as the principal ctx carries.
type Peers interface {
	// Apply returns the holder's outcome: nil, or its refusal as an *Error. If the request
	// never reached to, an error wrapping ErrNotSent: the caller answers as if it had not
	// asked.
	Apply(ctx context.Context, to store.Owner, r Request) error
}

// ErrNotSent: Peers.Apply did not deliver the request; nothing was applied by it.
var ErrNotSent = errors.New("the request did not reach the node holding the instance")

type noPeersKey struct{}

// WithoutPeers returns ctx for an operation that must be applied here or refused, never
// handed on: one another node forwarded to this one (a request is forwarded at most once).
func WithoutPeers(ctx context.Context) context.Context {
	return context.WithValue(ctx, noPeersKey{}, true)
}

// SetPeers installs how Do reaches other nodes (the server's; before any Do).
func (h *Host) SetPeers(p Peers) { h.peers.Store(&p) }

// Do applies r, here or — when another live node holds its instance — on that node.
func (h *Host) Do(ctx context.Context, r Request) error {
	err := h.do(ctx, r)
	holder, other := h.otherHolder(err)
	p := h.peers.Load()
	if p == nil || !other {
		return err
	}
	if v, _ := ctx.Value(noPeersKey{}).(bool); v {
		return err
	}
	if _, ok := ctx.Value(forwardKey{}).(*Forward); ok {
		return err // the server forwards the client's request itself
	}
	if id, ok := ctx.Value(jobKey{}).(uuid.UUID); ok {
		r.Job = id
	}
	perr := (*p).Apply(ctx, holder, r)
	if errors.Is(perr, ErrNotSent) {
		h.log.Warn("handing an operation to the node holding the instance failed; answering as this node",
			"to", holder.ID, "url", holder.Advertise, "operation", r.Operation, "id", r.Instance, "err", perr)
		return err
	}
	return perr
}

// Accept applies a Request another node handed to this one, as the principal ctx carries:
// here, or refused — never handed on again.
func (h *Host) Accept(ctx context.Context, r Request) error {
	ctx = WithoutPeers(ctx)
	if r.Job != uuid.Nil {
		ctx = withJob(ctx, r.Job)
	}
	return h.do(ctx, r)
}

func (h *Host) do(ctx context.Context, r Request) error {
	if r.Operation == OpResumeBookmark {
		if r.DryRun {
			return &Error{Kind: ErrInvalidInput, Instance: r.Instance, Operation: r.Operation, Detail: "a bookmark resumption has no dry run"}
		}
		return h.ResumeBookmark(ctx, r.Instance, r.Bookmark, r.Payload)
	}
	if h.cfg.Bulk == nil {
		return &Error{Kind: ErrInvalidInput, Instance: r.Instance, Operation: r.Operation, Detail: "this host has no management contract"}
	}
	cmd, err := h.cfg.Bulk.Command(r.Operation, r.Instance, r.Reason, r.Identity)
	if err != nil {
		return &Error{Kind: ErrInvalidInput, Instance: r.Instance, Operation: r.Operation, Detail: err.Error()}
	}
	if r.DryRun {
		return h.Preview(ctx, cmd)
	}
	return h.Manage(ctx, cmd)
}

// errorKinds names the kinds of Error for another node: a refusal travels as its name and
// comes back as the same kind.
var errorKinds = map[string]error{
	"NotFound": ErrNotFound, "Suspended": ErrSuspended, "Completed": ErrCompleted, "UpdateRefused": ErrUpdateRefused,
	"BookmarkNotFound": ErrBookmarkNotFound, "DefinitionNotFound": ErrDefinitionNotFound, "InvalidInput": ErrInvalidInput,
	"Exists": ErrExists, "InvalidQuery": ErrInvalidQuery, "JobNotFound": ErrJobNotFound, "Unavailable": ErrUnavailable,
	"OutcomeUnknown": ErrOutcomeUnknown, "AccessDenied": ErrAccessDenied,
}

// Refusal is an Error as it travels between nodes.
type Refusal struct {
	Kind       string              `json:"kind"`
	Operation  string              `json:"operation,omitempty"`
	Instance   uuid.UUID           `json:"instance"`
	Completion workflow.Completion `json:"completion,omitempty"`
	Detail     string              `json:"detail,omitempty"`
}

// RefusalOf is err as it travels to another node; nil for nil. An error that is not an
// *Error of a known kind travels as Unavailable with its text.
func RefusalOf(err error) *Refusal {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		for name, kind := range errorKinds {
			if e.Kind == kind {
				detail := e.Detail
				switch {
				case e.Cause != nil && detail != "":
					detail += ": " + e.Cause.Error()
				case e.Cause != nil:
					detail = e.Cause.Error()
				}
				return &Refusal{Kind: name, Operation: e.Operation, Instance: e.Instance, Completion: e.Completion, Detail: detail}
			}
		}
	}
	return &Refusal{Kind: "Unavailable", Detail: err.Error()}
}

// Err is the refusal as this node's *Error (an unknown kind: Unavailable).
func (r *Refusal) Err() error {
	kind, ok := errorKinds[r.Kind]
	if !ok {
		kind = ErrUnavailable
	}
	return &Error{Kind: kind, Operation: r.Operation, Instance: r.Instance, Completion: r.Completion, Detail: r.Detail}
}

// secretCache holds the store's cluster secret once read.
type secretCache struct {
	mu     sync.Mutex
	secret []byte
}

// ClusterSecret is the key the nodes sharing this host's store sign forwarded principals with
// (store.Store.ClusterSecret), read once.
func (h *Host) ClusterSecret(ctx context.Context) ([]byte, error) {
	h.secret.mu.Lock()
	defer h.secret.mu.Unlock()
	if h.secret.secret == nil {
		s, err := h.store.ClusterSecret(ctx)
		if err != nil {
			return nil, err
		}
		h.secret.secret = s
	}
	return h.secret.secret, nil
}
