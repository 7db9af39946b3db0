package store

import "time"

// BatchInfo is what a backend's writer reports of one group-commit batch (the backends'
// WithObserver options): the calls it took from its queue together, and what became of their
// transaction. One metrics observer serves every backend.
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
