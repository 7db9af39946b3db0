// Package store is the persistence contract of the host: instance rows, their tracking records,
// and leases that say which owner (one host process) may execute an instance. Backends live in
// their own packages (store/sqlite); store/storetest is the behavioural suite every backend passes.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/workflow"
)

// Errors returned by every backend; check with errors.Is.
var (
	ErrNotFound = errors.New("store: instance not found")
	ErrExists   = errors.New("store: instance already exists")
	ErrConflict = errors.New("store: instance was changed concurrently (version mismatch)")
	ErrClosed   = errors.New("store: closed")
	// ErrInvalid reports a malformed Change (nil Instance, nil id, unknown Op or State, a Record of
	// another instance). It is returned before anything is written.
	ErrInvalid = errors.New("store: invalid change")
	// ErrLeased: another owner holds the instance's lease and is alive; nothing was written.
	ErrLeased = errors.New("store: instance is leased by another owner")
	// ErrLeaseLost: the writing owner's lease on the instance was taken over, or the owner's own
	// registration lapsed (its leases may be taken over at any moment); nothing was written.
	ErrLeaseLost = errors.New("store: lease lost")
	// ErrKeyExists: Insert with a CorrelationKey another instance (of any state) holds. It is
	// also ErrExists.
	ErrKeyExists = fmt.Errorf("%w: correlation key in use by another instance", ErrExists)
	// ErrOwnerExists: Register with an owner id that is, or was, registered.
	ErrOwnerExists = errors.New("store: owner id already registered")
	// ErrTimeout: the change could not be committed within the store's write timeout (for
	// example because another process holds the database's write lock). Nothing of it was
	// written, and nothing of it will be.
	ErrTimeout = errors.New("store: write timed out")
	// ErrOutcomeUnknown: the connection to the database broke after the commit was sent and
	// whether it took effect could not be learned. The one failure of Commit that may have
	// been applied; reading the instance tells.
	ErrOutcomeUnknown = errors.New("store: whether the change was committed is unknown")
)

// LeaseError is an ErrLeased refusal naming the owner that holds the instance.
type LeaseError struct {
	Instance uuid.UUID
	Holder   Owner
}

func (e *LeaseError) Error() string {
	return fmt.Sprintf("store: instance %s is leased by %s", e.Instance, e.Holder)
}

func (e *LeaseError) Unwrap() error { return ErrLeased }

// Owner is a lease holder: one host process. ID is unique per process start (an owner whose
// registration lapsed never comes back under the same id); Node and Info are for people;
// Advertise is how other nodes reach it (they forward it operations on the instances it holds).
type Owner struct {
	ID        string
	Node      string // the node it runs on, e.g. "host:8080"
	Info      string // e.g. "pid 1234, listening on 127.0.0.1:8080"
	Advertise string // its base URL for other nodes, e.g. "http://10.0.0.5:8080"; "" if none
	// Read back by Owners (and in a LeaseError's Holder):
	Registered time.Time // when it registered
	Renewed    time.Time // its last successful Register or Renew
	Expiry     time.Time // when its registration expires
	Held       int       // Owners only: how many instances' leases it holds
}

func (o Owner) String() string {
	s := fmt.Sprintf("owner %q", o.ID)
	if o.Node != "" {
		s += " on node " + o.Node
	}
	if o.Info != "" {
		s += " (" + o.Info + ")"
	}
	return s
}

// Lease is who holds an instance's lease. Token is the fencing token: it grows every time the
// lease passes to an owner that did not hold it, so a write under an older token is refused.
type Lease struct {
	Owner string // "" when nobody holds it
	Token int64
}

// Instance is one row of the instances table.
type Instance struct {
	ID                  uuid.UUID
	Definition          workflow.Identity
	State               workflow.State
	Completion          workflow.Completion
	SuspensionReason    string
	SuspensionException string // exception name when suspended by an unhandled exception
	CompletionReason    string // termination reason, or the fault message of a Faulted instance
	CompletionException string // exception name of a Faulted instance ("" otherwise)
	Bookmarks           []string
	// PendingTimer is when the host must next look at the instance (UTC; zero: never by
	// itself): its earliest durable timer, or a later retry time after failed executions.
	PendingTimer    time.Time
	ExecutionStatus string // "Idle", "Executing", "Closed", "Canceled", "Faulted"
	Failures        int    // consecutive failed executions, for the host's back-off
	Image           []byte // serialised execution image (engine format), nil if none
	Variables       []byte // JSON object of the workflow variables at the last persist
	Version         int64  // incremented by every committed Update; 1 after Insert
	// Lease is the instance's lease as last read or written. A Change compares it with the
	// stored lease (see Change.By) and the store writes the new one back.
	Lease Lease
	// CorrelationKey is the business key the instance is found by instead of its id ("" for
	// none): unique among stored instances (an Insert that repeats one is ErrKeyExists), written
	// by Insert only (Update keeps the stored key).
	CorrelationKey string
	// Parent is the instance that started this one (an InvokeWorkflow activity's child);
	// uuid.Nil for none. Written by Insert only (Update keeps the stored parent).
	Parent uuid.UUID
	// CurrentState is the current state of the instance's outermost StateMachine ("" for none).
	CurrentState string
	// Properties are the promoted properties (name → value as text) of the last persist; nil
	// for none. Insert and Update write the whole set.
	Properties       map[string]string
	Created, Updated time.Time
}

// ClusterSecretSize is the length of Store.ClusterSecret.
const ClusterSecretSize = 32

// Op is what a Change does to its instance.
type Op int

const (
	Insert Op = iota // Instance must not exist yet (ErrExists); sets Version=1, Created=Updated=now
	Update           // Instance.Version must equal the stored version (ErrConflict; ErrNotFound if absent)
	Delete           // removes the instance (purge); its tracking records are kept. Version 0: unconditional
	Track            // only appends Records; the instance must exist (ErrNotFound). Version 0: unconditional; otherwise it must equal the stored version (ErrConflict), for records of a decision made on that version
	// Purge removes a Completed instance together with its tracking records (ErrLive if it is
	// not Completed). Version 0: unconditional.
	Purge
)

// Change is one instance's change plus the tracking records describing it.
// All Changes passed to one Commit call are applied atomically: if any fails, none of that
// call's changes (nor their Records) are applied, the error is returned and the caller's structs
// are left as they were. Concurrent Commit calls are independent of each other, even when a
// backend batches them into one transaction.
//
// On success the store writes back into the caller's values: Instance.Version, Updated (and
// Created on Insert), Lease, and for each Record its Seq, its InstanceID when it was uuid.Nil,
// and its Time (now when zero, else as stored: UTC, millisecond precision). A Record's
// InstanceID must be uuid.Nil or the Change's instance id (ErrInvalid otherwise).
//
// Fencing: a change by owner By is refused with ErrLeaseLost when By's registration has lapsed,
// or when Instance.Lease says By holds the instance but the stored lease is no longer exactly
// that one (taken over, or released). Any change is refused with ErrLeased while another live
// owner holds the instance. A lease whose owner's registration lapsed is free.
type Change struct {
	Op       Op
	Instance *Instance // for Insert/Update; for Delete/Purge/Track only ID, Version and Lease are used
	Records  []workflow.Record
	// By is the owner writing the change; "" for a writer that holds no leases (tools, tests).
	By string
	// Hold: after the change By holds the instance's lease (granted now, with a new token, if it
	// did not). Otherwise the lease is free afterwards. Ignored when By is "".
	Hold bool
}

// Query selects instances for List (ordered by Created, then id). List(q) returns what
// following every page of QueryInstances with Filter{State: q.State} would, up to q.Limit, with
// images and variables.
type Query struct {
	State workflow.State // "" for all
	Limit int            // 0 for no limit
}

// Claimed is an instance granted to an owner by ClaimDue or ClaimRunnable.
type Claimed struct {
	ID    uuid.UUID
	Lease Lease
	// From is the owner whose lapsed lease was taken over by this claim; "" when the lease was
	// free or already the claimer's.
	From string
}

// Store is the persistence contract the host relies on.
type Store interface {
	// Commit applies the changes in one transaction and returns only once it is durable
	// (fsync'd), or fails having written nothing (ErrTimeout when that could not be decided
	// within the store's write timeout).
	Commit(ctx context.Context, changes ...Change) error
	// Get returns a fresh copy of the instance, or ErrNotFound. Times are UTC (at least ms
	// precision); Bookmarks is nil when there are none; Image and Variables keep nil and
	// empty apart.
	Get(ctx context.Context, id uuid.UUID) (*Instance, error)
	List(ctx context.Context, q Query) ([]*Instance, error)
	// QueryInstances returns one page of the instances q.Filter selects, ordered by (Created,
	// id), and the token of the next page ("" after the last). Paging is by key (the token holds
	// the last instance's Created and id), so it is stable while instances are inserted and
	// deleted: an instance that exists, and matches, from the first page to the last appears
	// exactly once. Instances come without Image; Variables only when q.Variables. A filter
	// that does not Validate, a negative size or a malformed token is ErrInvalidQuery.
	QueryInstances(ctx context.Context, q PageQuery) (Page, error)
	// CountInstances counts the instances f selects, in groups (see GroupBy and Count).
	CountInstances(ctx context.Context, f Filter, by GroupBy) ([]Count, error)
	// Records returns the instance's tracking records with Seq > after, oldest first (also
	// after the instance was deleted; an id without records gives none and no error).
	Records(ctx context.Context, id uuid.UUID, after int64) ([]workflow.Record, error)
	// NextTimer returns the earliest PendingTimer of an Active instance; false if none.
	NextTimer(ctx context.Context) (time.Time, bool, error)
	// PendingTimers counts the Active instances with a PendingTimer, due or not: the ones
	// NextTimer and ClaimDue look at (for metrics; it must not read every instance).
	PendingTimers(ctx context.Context) (int64, error)

	// Register makes o a live owner until now+ttl; ErrOwnerExists if o.ID was ever registered.
	Register(ctx context.Context, o Owner, ttl time.Duration) error
	// Renew extends a live owner's registration (and so every lease it holds) to now+ttl.
	// ErrLeaseLost if the registration had lapsed or is unknown: the owner must stop executing
	// its instances and register again under a new id.
	Renew(ctx context.Context, owner string, ttl time.Duration) error
	// Unregister releases every lease the owner holds and ends its registration.
	Unregister(ctx context.Context, owner string) error
	// Owners lists the live owners, with when each registration expires.
	Owners(ctx context.Context) ([]Owner, error)
	// ClusterSecret is the random key (ClusterSecretSize bytes) every owner of this store
	// shares, made by the first caller: nodes sign with it the principal of an operation one
	// forwards to another. Whoever can read it can already write the store.
	ClusterSecret(ctx context.Context) ([]byte, error)
	// Claim grants the instance's lease to a live owner: a new token if it was free (or its
	// holder lapsed), the same if the owner holds it already. ErrLeased (a *LeaseError) while
	// another live owner holds it; ErrLeaseLost if owner itself is not live; ErrNotFound.
	Claim(ctx context.Context, id uuid.UUID, owner string) (Lease, error)
	// Release frees the lease if it is still exactly l; ErrLeaseLost otherwise.
	Release(ctx context.Context, id uuid.UUID, l Lease) error
	// ClaimDue grants owner up to limit (0: all) Active instances whose PendingTimer <= now and
	// whose lease is free or already owner's, earliest due first. Two owners never get the same
	// instance from concurrent calls while both are live.
	ClaimDue(ctx context.Context, owner string, now time.Time, limit int) ([]Claimed, error)
	// ClaimRunnable is ClaimDue for Active instances whose ExecutionStatus is "Executing"
	// (recovery of interrupted executions), except those backing off: Failures > 0 and a
	// PendingTimer (their retry time) after now. With Failures = 0 a PendingTimer ahead is a
	// durable timer of an image persisted while executing, which does not delay its recovery.
	ClaimRunnable(ctx context.Context, owner string, now time.Time, limit int) ([]Claimed, error)

	// PurgeRecords deletes up to limit (at least 1) of the oldest tracking records older than
	// before, of instances that exist and are not Completed (a Completed instance keeps its
	// trail until it is purged), and returns how many it deleted.
	PurgeRecords(ctx context.Context, before time.Time, limit int) (int64, error)

	Jobs

	// Close lets commits already submitted finish, then releases the store. Every later call,
	// Close included, returns ErrClosed.
	Close() error
}
