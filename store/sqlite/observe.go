package sqlite

import "time"

// BatchInfo is what the writer reports of one group-commit batch (WithObserver): the calls
// it took from its queue together, and what became of their transaction.
type BatchInfo struct {
	// Requests is how many calls (Commit, Claim, Register, ...) the transaction carried;
	// Failed of them were answered an error, their own (ErrConflict, ErrLeased, ...) or the
	// transaction's. Requests-Failed calls took effect.
	Requests, Failed int
	// TimedOut is how many calls of the batch were answered store.ErrTimeout before they
	// could be applied (the database stayed locked); they are not in Requests.
	TimedOut int
	// Duration is the time from when the writer took the batch to the end of its COMMIT (or
	// ROLLBACK): the fsync, and the retries while the database was locked, included.
	Duration time.Duration
	// Err is the transaction's failure, nil when it committed. A batch whose calls all timed
	// out has store.ErrTimeout and no Requests.
	Err error
}

// WithObserver has f called once per batch the writer takes from its queue, on the writer's
// goroutine before the batch's calls are answered: it must be quick (the next batch waits
// for it) and must not call the store.
func WithObserver(f func(BatchInfo)) Option { return func(o *options) { o.observer = f } }

// observe reports b, a batch taken at start, to the observer, if there is one.
func (s *Store) observe(start time.Time, b BatchInfo) {
	if f := s.opts.observer; f != nil {
		b.Duration = time.Since(start)
		f(b)
	}
}
