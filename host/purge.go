package host

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/workflow"
)

// purgeBatch is how many instances one purge transaction deletes: small enough that the
// store's writer is never held for long.
const purgeBatch = 100

// PurgeResult is what Purge did, or in a dry run would do.
type PurgeResult struct {
	Purged int64 // Completed instances deleted (dry run: that would be)
	// Live: instances the filter selected that are Active or Suspended, which purge never
	// deletes.
	Live int64
}

// Purge deletes the Completed instances f selects, with their tracking records, in batches of
// purgeBatch; a purged id is unknown to every later operation. Active and Suspended instances
// are never deleted: a filter that asks for them (State Active or Suspended) is refused with
// ErrInvalidQuery, and the live instances a filter without a state selects are counted in
// Live and left alone. dryRun counts and deletes nothing. The caller needs the admin role.
func (h *Host) Purge(ctx context.Context, f Filter, dryRun bool) (*PurgeResult, error) {
	const op = "Purge"
	if err := h.Authorize(ctx, op, Admin); err != nil {
		return nil, err
	}
	if f.State != "" && f.State != workflow.Completed {
		return nil, &Error{Kind: ErrInvalidQuery, Operation: op,
			Detail: fmt.Sprintf("purge deletes only Completed instances; %s instances are never purged", f.State)}
	}
	res := &PurgeResult{}
	if f.State == "" {
		counts, err := h.store.CountInstances(ctx, store.Filter(f), store.GroupByState)
		if err != nil {
			return nil, h.queryError(op, err)
		}
		for _, c := range counts {
			if c.State != workflow.Completed {
				res.Live += c.N
			}
		}
	}
	sf := store.Filter(f)
	sf.State = workflow.Completed
	if dryRun {
		counts, err := h.store.CountInstances(ctx, sf, store.GroupNone)
		if err != nil {
			return nil, h.queryError(op, err)
		}
		for _, c := range counts {
			res.Purged += c.N
		}
		return res, nil
	}
	n, err := h.purge(ctx, sf)
	res.Purged = n
	if n > 0 {
		h.log.Info("purged completed instances", "count", n, "principal", PrincipalFrom(ctx).String())
	}
	if err != nil {
		return res, h.queryError(op, err)
	}
	return res, nil
}

// purge deletes the Completed instances f selects, a page at a time (keyset paging is stable
// while the pages before are deleted), and returns how many it deleted.
func (h *Host) purge(ctx context.Context, f store.Filter) (int64, error) {
	var total int64
	q := store.PageQuery{Filter: f, Size: purgeBatch}
	for {
		page, err := h.store.QueryInstances(ctx, q)
		if err != nil {
			return total, err
		}
		n, err := h.purgeIDs(ctx, ids(page.Instances))
		total += n
		h.purged.Add(n)
		if err != nil {
			return total, err
		}
		if page.Next == "" || ctx.Err() != nil {
			return total, ctx.Err()
		}
		q.Token = page.Next
	}
}

// purgeIDs deletes those of the instances that are Completed, under their locks (so that a
// slot of one in memory goes with it), in one transaction; if that fails, one by one, so that
// one instance (held by another node, say) does not keep the others.
func (h *Host) purgeIDs(ctx context.Context, ids []uuid.UUID) (int64, error) {
	// Locks in id order: two purges of overlapping pages cannot deadlock.
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	slots := make([]*slot, 0, len(ids))
	defer func() {
		for _, s := range slots {
			h.release(s)
		}
	}()
	var changes []store.Change
	for _, id := range ids {
		s := h.acquire(id)
		slots = append(slots, s)
		if err := h.readRow(ctx, s); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			return 0, err
		}
		if s.rec.State != workflow.Completed {
			continue
		}
		changes = append(changes, store.Change{Op: store.Purge, Instance: &store.Instance{ID: id, Lease: s.rec.Lease}, By: h.ownerID()})
	}
	gone := func(c store.Change) {
		for _, s := range slots {
			if s.id == c.Instance.ID {
				h.discard(s)
			}
		}
	}
	if err := h.store.Commit(ctx, changes...); err == nil {
		for _, c := range changes {
			gone(c)
		}
		return int64(len(changes)), nil
	}
	var n int64
	var errs []error
	for _, c := range changes {
		switch err := h.store.Commit(ctx, c); {
		case err == nil:
			n++
			gone(c)
		case errors.Is(err, store.ErrNotFound):
			gone(c)
		default:
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return n, fmt.Errorf("%d of %d instances could not be purged: %w", len(errs), len(changes), errors.Join(errs...))
	}
	return n, nil
}

// Purged reports how many instances have been purged since the host started (for metrics).
func (h *Host) Purged() int64 { return h.purged.Load() }

// retentionLoop purges completed instances older than CompletedRetention (when PurgeCompleted)
// and deletes live instances' tracking records older than TrackingRetention, every interval
// and, with a retention of 0, whenever an instance completes.
func (h *Host) retentionLoop() {
	every := time.Minute
	for _, d := range []time.Duration{h.cfg.CompletedRetention, h.cfg.TrackingRetention} {
		if d > 0 {
			every = min(every, max(d/10, time.Second))
		}
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	atCompletion := h.cfg.PurgeCompleted && h.cfg.CompletedRetention == 0
	for {
		h.applyRetention()
	wait:
		for {
			select {
			case <-h.ctx.Done():
				return
			case <-tick.C:
				break wait
			case <-h.retain:
				if atCompletion {
					break wait
				} // otherwise completions wait for their time
			}
		}
	}
}

// applyRetention runs one round of the retention rules.
func (h *Host) applyRetention() {
	ctx := h.ctx
	now := h.now()
	if h.cfg.PurgeCompleted {
		// Updated is when the instance completed: nothing changes a Completed instance.
		cut := now.Add(-h.cfg.CompletedRetention)
		if h.cfg.CompletedRetention == 0 {
			cut = now.Add(time.Millisecond) // bounds are exclusive: up to and including now
		}
		n, err := h.purge(ctx, store.Filter{State: workflow.Completed, UpdatedBefore: cut})
		if n > 0 {
			h.log.Info("retention purged completed instances", "count", n, "completedBefore", cut)
		}
		if err != nil && ctx.Err() == nil {
			h.log.Warn("retention: purging completed instances failed", "err", err)
		}
	}
	if h.cfg.TrackingRetention > 0 {
		cut := now.Add(-h.cfg.TrackingRetention)
		var total int64
		for ctx.Err() == nil {
			n, err := h.store.PurgeRecords(ctx, cut, 1000)
			total += n
			if err != nil {
				if ctx.Err() == nil {
					h.log.Warn("retention: deleting old tracking records failed", "err", err)
				}
				break
			}
			if n < 1000 {
				break
			}
		}
		if total > 0 {
			h.log.Info("retention deleted tracking records of live instances", "count", total, "before", cut)
		}
	}
}
