package host

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/store"
)

// Several nodes on one store (README, "Running several nodes"): an instance executes where its
// lease is held. An operation that meets an instance leased by another live node is refused
// here with ErrUnavailable, changing nothing, and the HTTP layer hands the client's request to
// that node (server/peers.go) — the holder the refusal names, via the Forward its context
// carries.

// Forward is where a request's operation should go instead: set by the host when the
// operation was refused because another live node, reachable at an advertised URL, holds the
// instance's lease.
type Forward struct {
	mu    sync.Mutex
	owner store.Owner
	as    Principal // who asked, as this node authenticated them
	set   bool
}

type forwardKey struct{}

// WithForward returns ctx carrying a new Forward, for a request that may be forwarded once.
func WithForward(ctx context.Context) (context.Context, *Forward) {
	f := &Forward{}
	return context.WithValue(ctx, forwardKey{}, f), f
}

// To is the node to forward to; false when the operation was not refused for another node.
func (f *Forward) To() (store.Owner, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.owner, f.set
}

// As is the principal the refused operation was asked by: the one the holder is told of.
func (f *Forward) As() Principal {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.as
}

// otherHolder is the other live node, reachable at an advertised URL, that err says holds the
// instance; false when err is no such refusal.
func (h *Host) otherHolder(err error) (store.Owner, bool) {
	var le *store.LeaseError
	if err == nil || !errors.As(err, &le) || le.Holder.Advertise == "" || le.Holder.ID == h.ownerID() {
		return store.Owner{}, false
	}
	return le.Holder, true
}

// noteForward records in ctx's Forward (if any) the other live node err says holds the
// instance, and returns err.
func (h *Host) noteForward(ctx context.Context, err error) error {
	holder, ok := h.otherHolder(err)
	if !ok {
		return err
	}
	if f, ok := ctx.Value(forwardKey{}).(*Forward); ok {
		f.mu.Lock()
		f.owner, f.as, f.set = holder, PrincipalFrom(ctx), true
		f.mu.Unlock()
	}
	return err
}

// Node is one live node sharing the store, as GetNodes and `wimpctl nodes` describe it.
type Node struct {
	ID         string    // its registration id (a new one each time the process starts)
	Name       string    // its --node-id
	Advertise  string    // the URL other nodes forward to; "" if it advertises none
	Info       string    // process and listener, e.g. "pid 1234, listening on 127.0.0.1:8080"
	Registered time.Time // when it registered
	Renewed    time.Time // its last successful renewal
	Expiry     time.Time // when its registration lapses unless renewed
	Instances  int       // how many instances' leases it holds
	Self       bool      // the node that answered
}

// Nodes lists the live nodes sharing the store (this one included), each with how many
// instance leases it holds.
func (h *Host) Nodes(ctx context.Context) ([]Node, error) {
	const op = "GetNodes"
	if err := h.Authorize(ctx, op, Reader); err != nil {
		return nil, err
	}
	owners, err := h.store.Owners(ctx)
	if err != nil {
		return nil, h.unavailable(uuid.Nil, op, err)
	}
	self := h.ownerID()
	nodes := make([]Node, 0, len(owners))
	for _, o := range owners {
		nodes = append(nodes, Node{ID: o.ID, Name: o.Node, Advertise: o.Advertise, Info: o.Info,
			Registered: o.Registered, Renewed: o.Renewed, Expiry: o.Expiry, Instances: o.Held, Self: o.ID == self})
	}
	return nodes, nil
}

// Self is this node's current owner registration id.
func (h *Host) Self() string { return h.ownerID() }

// clusterCounters count what happens between nodes, for /metrics.
type clusterCounters struct {
	fenced    atomic.Int64 // writes refused because this node's lease was lost (ErrLeaseLost)
	takeovers atomic.Int64 // leases taken from owners whose registration had lapsed
}

// tookOver counts a lease this node took from from, an owner whose registration had lapsed
// (another node that died or was cut off, or this process under an earlier registration);
// "" or this node's own id is no takeover.
func (h *Host) tookOver(from string) {
	if from != "" && from != h.ownerID() {
		h.cluster.takeovers.Add(1)
	}
}

// Takeovers counts the instances this node took over since start: their lease was held by
// an owner whose registration had lapsed when this node claimed them or wrote to them.
func (h *Host) Takeovers() int64 { return h.cluster.takeovers.Load() }

// countFenced counts err if it is a fencing refusal, and returns it.
func (h *Host) countFenced(err error) error {
	if errors.Is(err, store.ErrLeaseLost) {
		h.cluster.fenced.Add(1)
	}
	return err
}

// FencingRejections counts this node's writes the store refused since start because the
// node no longer held the lease (taken over, or its registration lapsed).
func (h *Host) FencingRejections() int64 { return h.cluster.fenced.Load() }

// LeasesHeld is how many instances this node holds the lease of: the loaded ones (an instance
// stays leased exactly while it is loaded; claims between are momentary).
func (h *Host) LeasesHeld() int { return h.Loaded() }
