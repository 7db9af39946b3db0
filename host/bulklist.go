package host

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/store"
)

// ListBulk returns the bulk jobs with status (store.JobRunning, JobCompleted, JobCanceled,
// JobFailed; "" for all), oldest first: the dashboard's "bulk jobs in progress". It needs the
// reader role, as GetBulk does.
func (h *Host) ListBulk(ctx context.Context, status string) ([]*BulkJob, error) {
	const op = "ListBulkOperations"
	if err := h.Authorize(ctx, op, Reader); err != nil {
		return nil, err
	}
	jobs, err := h.store.ListJobs(ctx, status)
	if err != nil {
		return nil, h.unavailable(uuid.Nil, op, err)
	}
	out := make([]*BulkJob, 0, len(jobs))
	for _, j := range jobs {
		var spec jobSpec
		if err := json.Unmarshal(j.Spec, &spec); err != nil {
			return nil, fmt.Errorf("host: bulk job %s: unreadable spec: %w", j.ID, err)
		}
		out = append(out, jobView(j, spec))
	}
	return out, nil
}

// Bulk job statuses (BulkJob.Status), for callers that may not import the store.
const (
	BulkRunning   = store.JobRunning
	BulkCompleted = store.JobCompleted
	BulkCanceled  = store.JobCanceled
	BulkFailed    = store.JobFailed
)
