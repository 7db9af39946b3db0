package host

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/store"
)

// healthFresh is how long a renewal's outcome answers Health without writing again.
const healthFresh = time.Second

// healthState is the outcome of the last renewal of the owner registration.
type healthState struct {
	mu      sync.Mutex
	checked time.Time // when the last renewal finished
	ok      time.Time // when the last renewal succeeded
	err     error     // the last renewal's error
}

func (hs *healthState) set(at time.Time, err error) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	hs.checked, hs.err = at, err
	if err == nil {
		hs.ok = at
	}
}

func (hs *healthState) get() (checked, ok time.Time, err error) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	return hs.checked, hs.ok, hs.err
}

// leaseLoop renews the owner registration every third of the lease. A renewal may take at
// most a third of the lease (a database that does not answer hangs no longer than that), so
// by two thirds of the lease after the start of the last renewal that succeeded, one more
// attempt has failed and the host drops every loaded instance: it stops executing a third of
// the lease before other nodes may take its instances over, so no instance ever has two
// executors (with clocks that agree to well within that third).
func (h *Host) leaseLoop() {
	h.goBackground(h.leaseWatchdog)
	t := time.NewTicker(h.cfg.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-t.C:
		}
		h.renewMu.Lock()
		err := h.renew(h.ctx)
		h.renewMu.Unlock()
		if err != nil && h.ctx.Err() == nil {
			h.log.Error("renewing the owner registration failed", "owner", h.ownerID(), "err", err)
		}
	}
}

// renew renews the owner registration (a real write to the store) and records the outcome.
// A lapsed registration means other owners may take this host's instances: it drops every
// loaded instance and registers anew. A renewal failing two thirds of a lease after the last
// one that succeeded began drops them too (leaseLoop). The caller holds renewMu.
func (h *Host) renew(ctx context.Context) error {
	began := time.Now()
	rctx, cancel := context.WithTimeout(ctx, h.cfg.Lease/3)
	err := h.store.Renew(rctx, h.ownerID(), h.cfg.Lease)
	cancel()
	if errors.Is(err, store.ErrLeaseLost) {
		h.log.Error("the owner registration lapsed: dropping the loaded instances and registering anew", "owner", h.ownerID())
		h.relinquish()
		if rerr := h.register(ctx); rerr != nil {
			h.health.set(time.Now(), rerr)
			return rerr
		}
		return nil
	}
	if err == nil {
		h.health.set(began, nil) // the registration runs from no earlier than this
		return nil
	}
	h.health.set(time.Now(), err)
	h.storeErrors.inc(storeErrorKind(err))
	return err
}

// leaseWatchdog drops every loaded instance once two thirds of a lease have passed since the
// last renewal that succeeded began, whether or not a renewal is still trying: a write to an
// unreachable database can hang for the whole commit timeout.
func (h *Host) leaseWatchdog() {
	t := time.NewTicker(h.cfg.Lease / 12)
	defer t.Stop()
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-t.C:
		}
		if ok := h.lastRenewed(); h.stale(ok) && h.Loaded() > 0 {
			h.log.Error("the owner registration could not be renewed for two thirds of a lease: dropping the loaded instances before other nodes may take them over",
				"owner", h.ownerID(), "last_renewed", ok)
			h.relinquish()
		}
	}
}

// lastRenewed is when the last renewal (or registration) that succeeded began.
func (h *Host) lastRenewed() time.Time {
	_, ok, _ := h.health.get()
	return ok
}

// stale reports whether a registration last renewed at ok may be within a third of a lease
// of lapsing: this node must not execute, nor start writes, under it.
func (h *Host) stale(ok time.Time) bool { return time.Since(ok) >= 2*h.cfg.Lease/3 }

// errStale is Health's answer while the registration is not being renewed in time.
var errStale = errors.New("host: the owner registration has not been renewed for two thirds of a lease")

// leaseBound bounds a write by the registration it is made under: it must be done, or given up,
// by the time the node stops executing (two thirds of a lease after the last renewal began).
func (h *Host) leaseBound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithDeadline(ctx, h.lastRenewed().Add(2*h.cfg.Lease/3))
}

// relinquish drops every loaded instance (and anything staged on it): the host may no longer
// hold their leases. Each goes on from its last persisted point wherever it is taken up next.
func (h *Host) relinquish() {
	h.mu.Lock()
	ids := make([]uuid.UUID, 0, len(h.slots))
	for id := range h.slots {
		ids = append(ids, id)
	}
	h.mu.Unlock()
	for _, id := range ids {
		s := h.acquire(id)
		h.discard(s)
		h.release(s)
	}
}

// Health reports whether the host can make changes durable now: it renews the owner
// registration, a real write, unless a renewal finished within the last second (whose
// outcome it then reports). nil means healthy.
func (h *Host) Health(ctx context.Context) error {
	if h.stale(h.lastRenewed()) {
		return errStale // the lease loop keeps trying; a probe need not wait for it
	}
	if !h.renewMu.TryLock() {
		// A renewal is under way (and may hang on an unreachable database): answer from
		// what is known rather than wait for it.
		_, _, err := h.health.get()
		return err
	}
	defer h.renewMu.Unlock()
	if checked, _, err := h.health.get(); time.Since(checked) < healthFresh {
		return err
	}
	return h.renew(context.WithoutCancel(ctx))
}
