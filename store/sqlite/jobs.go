package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/store"
)

const jobColumns = `id, spec, principal, status, cursor, matched, done, ok, faults, error, created, updated`

// CreateJob stores a new bulk job.
func (s *Store) CreateJob(ctx context.Context, j *store.Job) error {
	if j == nil || j.ID == uuid.Nil {
		return fmt.Errorf("%w: a job needs an id", store.ErrInvalid)
	}
	faults, err := faultsJSON(j.Faults)
	if err != nil {
		return err
	}
	var now time.Time
	err = s.submit(ctx, &request{apply: func(t *tx) error {
		now = t.now
		res, err := t.w.conn.ExecContext(t.ctx, `INSERT INTO bulk_jobs (`+jobColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO NOTHING`, j.ID.String(), j.Spec, j.Principal, j.Status, j.Cursor,
			j.Matched, j.Done, j.OK, faults, j.Error, toMS(t.now), toMS(t.now))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return errors.Join(err, fmt.Errorf("%w: job %s", store.ErrExists, j.ID))
		}
		return nil
	}})
	if err == nil {
		j.Created, j.Updated = now, now
	}
	return err
}

// SaveJob writes the job's progress and its new items in one transaction.
func (s *Store) SaveJob(ctx context.Context, j *store.Job, items []store.JobItem) error {
	faults, err := faultsJSON(j.Faults)
	if err != nil {
		return err
	}
	type writeBack struct {
		seq int64
		at  time.Time
	}
	backs := make([]writeBack, len(items))
	var now time.Time
	err = s.submit(ctx, &request{apply: func(t *tx) error {
		now = t.now
		id := j.ID.String()
		res, err := t.w.conn.ExecContext(t.ctx, `UPDATE bulk_jobs SET status = ?, cursor = ?, matched = ?, done = ?, ok = ?,
			faults = ?, error = ?, updated = ? WHERE id = ?`,
			j.Status, j.Cursor, j.Matched, j.Done, j.OK, faults, j.Error, toMS(t.now), id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return errors.Join(err, fmt.Errorf("%w: %s", store.ErrJobNotFound, j.ID))
		}
		if len(items) == 0 {
			return nil
		}
		var seq int64
		if err := t.w.conn.QueryRowContext(t.ctx, `SELECT coalesce(max(seq), 0) FROM bulk_job_items WHERE job_id = ?`, id).Scan(&seq); err != nil {
			return err
		}
		for i, it := range items {
			seq++
			at := it.Time
			if at.IsZero() {
				at = t.now
			}
			at = fromMS(at.UnixMilli())
			_, err := t.w.conn.ExecContext(t.ctx, `INSERT INTO bulk_job_items (job_id, seq, instance_id, outcome, detail, time)
				VALUES (?, ?, ?, ?, ?, ?)`, id, seq, it.Instance.String(), it.Outcome, it.Detail, toMS(at))
			if err != nil {
				if strings.Contains(err.Error(), "UNIQUE constraint failed") {
					return fmt.Errorf("%w: job %s already has a result for instance %s", store.ErrInvalid, j.ID, it.Instance)
				}
				return err
			}
			backs[i] = writeBack{seq, at}
		}
		return nil
	}})
	if err != nil {
		return err
	}
	j.Updated = now
	for i := range items {
		items[i].Seq, items[i].Time = backs[i].seq, backs[i].at
	}
	return nil
}

// GetJob returns the job or store.ErrJobNotFound.
func (s *Store) GetJob(ctx context.Context, id uuid.UUID) (*store.Job, error) {
	jobs, err := s.jobs(ctx, `SELECT `+jobColumns+` FROM bulk_jobs WHERE id = ?`, id.String())
	if err != nil {
		return nil, err
	}
	if len(jobs) == 0 {
		return nil, fmt.Errorf("%w: %s", store.ErrJobNotFound, id)
	}
	return jobs[0], nil
}

// ListJobs returns the jobs with the status ("" for all), oldest first.
func (s *Store) ListJobs(ctx context.Context, status string) ([]*store.Job, error) {
	if status == "" {
		return s.jobs(ctx, `SELECT `+jobColumns+` FROM bulk_jobs ORDER BY created, id`)
	}
	return s.jobs(ctx, `SELECT `+jobColumns+` FROM bulk_jobs WHERE status = ? ORDER BY created, id`, status)
}

func (s *Store) jobs(ctx context.Context, query string, args ...any) ([]*store.Job, error) {
	if s.rclosed.Load() {
		return nil, store.ErrClosed
	}
	var out []*store.Job
	err := retry(ctx, func() error {
		out = out[:0]
		return s.query(ctx, query, args, func(rows *sql.Rows) error {
			var j store.Job
			var id, faults string
			var created, updated int64
			if err := rows.Scan(&id, &j.Spec, &j.Principal, &j.Status, &j.Cursor, &j.Matched, &j.Done, &j.OK,
				&faults, &j.Error, &created, &updated); err != nil {
				return err
			}
			var err error
			if j.ID, err = uuid.Parse(id); err != nil {
				return fmt.Errorf("sqlite: bad job id %q: %w", id, err)
			}
			if err := json.Unmarshal([]byte(faults), &j.Faults); err != nil {
				return fmt.Errorf("sqlite: job %s: bad faults %q: %w", id, faults, err)
			}
			if len(j.Faults) == 0 {
				j.Faults = nil
			}
			j.Created, j.Updated = fromMS(created), fromMS(updated)
			out = append(out, &j)
			return nil
		})
	})
	return out, s.readErr(err)
}

// JobItems returns a page of the job's items in Seq order.
func (s *Store) JobItems(ctx context.Context, id uuid.UUID, after int64, limit int) ([]store.JobItem, error) {
	if s.rclosed.Load() {
		return nil, store.ErrClosed
	}
	var out []store.JobItem
	err := retry(ctx, func() error {
		out = out[:0]
		return s.query(ctx, `SELECT seq, instance_id, outcome, detail, time FROM bulk_job_items
			WHERE job_id = ? AND seq > ? ORDER BY seq LIMIT ?`, []any{id.String(), after, limitArg(limit)},
			func(rows *sql.Rows) error {
				var it store.JobItem
				var iid string
				var at int64
				if err := rows.Scan(&it.Seq, &iid, &it.Outcome, &it.Detail, &at); err != nil {
					return err
				}
				var err error
				if it.Instance, err = uuid.Parse(iid); err != nil {
					return fmt.Errorf("sqlite: bad job item instance id %q: %w", iid, err)
				}
				it.Time = fromMS(at)
				out = append(out, it)
				return nil
			})
	})
	return out, s.readErr(err)
}

// JobHasItems reports which of the instances the job has an item for.
func (s *Store) JobHasItems(ctx context.Context, id uuid.UUID, instances []uuid.UUID) (map[uuid.UUID]bool, error) {
	if s.rclosed.Load() {
		return nil, store.ErrClosed
	}
	out := map[uuid.UUID]bool{}
	if len(instances) == 0 {
		return out, nil
	}
	ids := make([]string, len(instances))
	for i, in := range instances {
		ids[i] = in.String()
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	err = retry(ctx, func() error {
		clear(out)
		return s.query(ctx, `SELECT instance_id FROM bulk_job_items WHERE job_id = ? AND instance_id IN (SELECT value FROM json_each(?))`,
			[]any{id.String(), string(list)}, func(rows *sql.Rows) error {
				var iid string
				if err := rows.Scan(&iid); err != nil {
					return err
				}
				u, err := uuid.Parse(iid)
				if err != nil {
					return fmt.Errorf("sqlite: bad job item instance id %q: %w", iid, err)
				}
				out[u] = true
				return nil
			})
	})
	return out, s.readErr(err)
}

// PurgeRecords deletes up to limit of the oldest tracking records older than before whose
// instance exists and is not Completed.
func (s *Store) PurgeRecords(ctx context.Context, before time.Time, limit int) (int64, error) {
	var n int64
	err := s.submit(ctx, &request{apply: func(t *tx) error {
		var err error
		n, err = purgeBatches(t.ctx, t.w.conn, toMS(before), int64(max(limit, 1)))
		return err
	}})
	return n, err
}

func faultsJSON(faults map[string]int64) (string, error) {
	if len(faults) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(faults)
	return string(b), err
}
