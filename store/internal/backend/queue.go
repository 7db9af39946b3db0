package backend

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wimp-project/wimp/store"
)

const (
	reqQueued int32 = iota
	reqStarted
	reqCanceled
)

// Ticket is a request's place in a writer queue: its deadline, whether a writer took it or its
// caller gave up waiting, and where its outcome is answered. Request types embed it.
type Ticket struct {
	Deadline time.Time // after it, a request not yet applied is answered ErrTimeout
	state    atomic.Int32
	done     chan error // buffered(1): a writer never blocks answering
}

func (t *Ticket) ticket() *Ticket { return t }

// Answer gives the request's caller its outcome; a writer answers each request it took once.
func (t *Ticket) Answer(err error) { t.done <- err }

// Queued is a request type: one that embeds Ticket.
type Queued interface{ ticket() *Ticket }

// Queue is the requests waiting for a backend's writers, which take them in batches (group
// commit).
type Queue[R Queued] struct {
	mu       sync.RWMutex // guards closed and sends on ch (so Close can close ch safely)
	closed   bool
	ch       chan R
	timeout  time.Duration
	name     string        // the queue, in the error of a caller that could not enqueue
	Timeouts atomic.Uint64 // requests answered ErrTimeout, enqueued or not
}

// NewQueue is a queue of up to n waiting requests, each of which has timeout to be applied.
func NewQueue[R Queued](n int, timeout time.Duration, name string) *Queue[R] {
	return &Queue[R]{ch: make(chan R, n), timeout: timeout, name: name}
}

// Submit queues r for a writer and waits for its outcome. ctx is honoured while r waits in the
// queue; once a writer has taken it into a transaction, Submit returns the true outcome.
func (q *Queue[R]) Submit(ctx context.Context, r R) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t := r.ticket()
	t.done = make(chan error, 1)
	t.Deadline = time.Now().Add(q.timeout) // real time: the store's clock may be a test's
	if d, ok := ctx.Deadline(); ok && d.Before(t.Deadline) {
		t.Deadline = d
	}
	full := time.NewTimer(time.Until(t.Deadline))
	defer full.Stop()
	q.mu.RLock()
	if q.closed {
		q.mu.RUnlock()
		return store.ErrClosed
	}
	select {
	case q.ch <- r:
		q.mu.RUnlock()
	case <-ctx.Done():
		q.mu.RUnlock()
		return ctx.Err()
	case <-full.C:
		q.mu.RUnlock()
		q.Timeouts.Add(1)
		return fmt.Errorf("%w: %s stayed full for %v", store.ErrTimeout, q.name, q.timeout)
	}
	select {
	case err := <-t.done:
		return err
	case <-ctx.Done():
		if t.state.CompareAndSwap(reqQueued, reqCanceled) {
			return ctx.Err() // a writer will skip it
		}
		return <-t.done // already in a batch: wait for the true outcome
	}
}

// Close stops accepting requests, running closing while none can be sent; the writers still
// drain what is queued. It reports false if the queue was already closed.
func (q *Queue[R]) Close(closing func()) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return false
	}
	q.closed = true
	closing()
	close(q.ch)
	return true
}

// Hold keeps every Submit from enqueueing until release is called: tests use it to queue
// requests together.
func (q *Queue[R]) Hold() (release func()) {
	q.mu.Lock()
	return q.mu.Unlock
}

// Next waits for a request, then appends to batch it and those waiting behind it, up to max in
// all (max <= 0: no limit), skipping those whose callers gave up. It reports false once the
// queue is closed and drained. The batch may be empty.
func (q *Queue[R]) Next(batch []R, max int) ([]R, bool) {
	take := func(r R) {
		if r.ticket().state.CompareAndSwap(reqQueued, reqStarted) {
			batch = append(batch, r)
		}
	}
	req, ok := <-q.ch
	if !ok {
		return batch, false
	}
	take(req)
	for max <= 0 || len(batch) < max {
		select {
		case r, ok := <-q.ch:
			if !ok {
				return batch, true
			}
			take(r)
		default:
			return batch, true
		}
	}
	return batch, true
}

// Expire answers err to the requests of batch whose deadline has passed and returns the
// others, with their errs.
func (q *Queue[R]) Expire(batch []R, errs []error, err error) ([]R, []error) {
	now := time.Now()
	keep := batch[:0]
	for _, r := range batch {
		if now.Before(r.ticket().Deadline) {
			keep = append(keep, r)
			continue
		}
		q.Timeouts.Add(1)
		r.ticket().Answer(err)
	}
	return keep, errs[:len(keep)]
}

// Backoff returns the pause before retry attempt n (0-based): 1ms doubling to 100ms.
func Backoff(n int) time.Duration {
	return min(time.Millisecond<<min(n, 7), 100*time.Millisecond)
}

// Pause sleeps before retry attempt n of batch's transaction: Backoff(n), but no later than
// the earliest deadline in batch, so a request that cannot wait is answered in time.
func Pause[R Queued](batch []R, n int) {
	wait := Backoff(n)
	for _, r := range batch {
		wait = min(wait, max(time.Until(r.ticket().Deadline), 0))
	}
	time.Sleep(wait)
}
