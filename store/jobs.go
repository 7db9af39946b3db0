package store

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
)

// ErrJobNotFound: no bulk job has this id.
var ErrJobNotFound = errors.New("store: bulk job not found")

// ErrLive: a Purge change named an instance that is not Completed; nothing was written.
var ErrLive = errors.New("store: instance is not completed")

// Job statuses. A job is Running until its runner finishes it (Completed), it is canceled
// (Canceled), or it cannot go on (Failed, with Job.Error).
const (
	JobRunning   = "Running"
	JobCompleted = "Completed"
	JobCanceled  = "Canceled"
	JobFailed    = "Failed"
)

// Job is a bulk job's stored state: what to do (Spec, which only the host reads), where it has
// got to (Cursor: the page token of the next page of its selection) and its progress counters.
// The host is the only writer of a job's progress; the store keeps what it is given.
type Job struct {
	ID        uuid.UUID
	Spec      []byte // the host's description of the job (JSON)
	Principal string // who started it
	Status    string // JobRunning, JobCompleted, JobCanceled or JobFailed
	Cursor    string
	// Matched: instances selected so far; Done: of them, handled; OK: of them, succeeded.
	Matched, Done, OK int64
	Faults            map[string]int64 // handled instances that did not succeed, by outcome
	Error             string           // why a Failed job stopped
	Created, Updated  time.Time        // written back by CreateJob and SaveJob
}

// JobItem is the result of a job for one instance. Seq orders a job's items (the store assigns
// it: 1, 2, … in the order they were saved).
type JobItem struct {
	Seq      int64
	Instance uuid.UUID
	Outcome  string // "ok", or the name of the refusal (a fault subcode)
	Detail   string // the refusal's text
	Time     time.Time
}

// Jobs is the part of the store contract that keeps bulk jobs (see Store).
type Jobs interface {
	// CreateJob stores a new job (ErrExists if its id is taken), writing back Created and
	// Updated.
	CreateJob(ctx context.Context, j *Job) error
	// GetJob returns a fresh copy of the job, or ErrJobNotFound.
	GetJob(ctx context.Context, id uuid.UUID) (*Job, error)
	// ListJobs returns the jobs with the status ("" for all), oldest first.
	ListJobs(ctx context.Context, status string) ([]*Job, error)
	// SaveJob writes j's Status, Cursor, counters, Faults and Error together with the items, in
	// one transaction (ErrJobNotFound if it does not exist; ErrInvalid if an item names an
	// instance the job already has an item for, and then nothing is written). Items get their
	// Seq, and their Time when zero; j gets Updated.
	SaveJob(ctx context.Context, j *Job, items []JobItem) error
	// JobItems returns up to limit (0: all) of the job's items with Seq > after, in Seq order.
	JobItems(ctx context.Context, id uuid.UUID, after int64, limit int) ([]JobItem, error)
	// JobHasItems reports which of the instances the job has an item for.
	JobHasItems(ctx context.Context, id uuid.UUID, instances []uuid.UUID) (map[uuid.UUID]bool, error)
}
