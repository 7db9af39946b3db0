package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/store/internal/backend"
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
	spec := j.Spec
	if spec == nil {
		spec = []byte{} // NOT NULL
	}
	var now time.Time
	err = s.submit(ctx, &request{apply: func(t *tx) error {
		now = t.now
		return badText(t.execOne(fmt.Errorf("%w: job %s", store.ErrExists, j.ID),
			`INSERT INTO bulk_jobs (`+jobColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
			ON CONFLICT (id) DO NOTHING`, j.ID, spec, j.Principal, j.Status, j.Cursor, j.Matched, j.Done, j.OK,
			faults, j.Error, t.now))
	}})
	if err == nil {
		j.Created, j.Updated = now, now
	}
	return err
}

// SaveJob writes the job's progress and its new items in one transaction. The job's row is
// locked first, so two SaveJobs of one job (two nodes) number their items one after the other.
func (s *Store) SaveJob(ctx context.Context, j *store.Job, items []store.JobItem) error {
	faults, err := faultsJSON(j.Faults)
	if err != nil {
		return err
	}
	backs := make([]store.JobItem, len(items))
	var now time.Time
	err = s.submit(ctx, &request{apply: func(t *tx) error {
		now = t.now
		b := &pgx.Batch{}
		found := false
		dup := -1 // the first item refused as a second result for its instance
		b.Queue(`UPDATE bulk_jobs SET status = $1, cursor = $2, matched = $3, done = $4, ok = $5,
			faults = $6, error = $7, updated = $8 WHERE id = $9`,
			j.Status, j.Cursor, j.Matched, j.Done, j.OK, faults, j.Error, t.now, j.ID).Exec(func(ct pgconn.CommandTag) error {
			found = ct.RowsAffected() == 1
			return nil
		})
		for i, it := range items {
			at := it.Time
			if at.IsZero() {
				at = t.now
			}
			backs[i] = store.JobItem{Time: ms(at)}
			b.Queue(`INSERT INTO bulk_job_items (job_id, seq, instance_id, outcome, detail, time)
				SELECT $1::uuid, COALESCE(MAX(seq), 0) + 1, $2::uuid, $3::text, $4::text, $5::timestamptz
				FROM bulk_job_items WHERE job_id = $1
				ON CONFLICT (job_id, instance_id) DO NOTHING RETURNING seq`,
				j.ID, it.Instance, it.Outcome, it.Detail, backs[i].Time).Query(func(rows pgx.Rows) error {
				if !rows.Next() {
					if dup < 0 {
						dup = i
					}
					return rows.Err()
				}
				if err := rows.Scan(&backs[i].Seq); err != nil {
					return err
				}
				rows.Close()
				return rows.Err()
			})
		}
		if err := t.send(b); err != nil {
			return badText(err)
		}
		switch {
		case !found:
			return fmt.Errorf("%w: %s", store.ErrJobNotFound, j.ID)
		case dup >= 0:
			return fmt.Errorf("%w: job %s already has a result for instance %s", store.ErrInvalid, j.ID, items[dup].Instance)
		}
		return nil
	}})
	if err != nil {
		return err
	}
	j.Updated = now
	for i := range items {
		items[i].Seq, items[i].Time = backs[i].Seq, backs[i].Time
	}
	return nil
}

// GetJob returns the job or store.ErrJobNotFound.
func (s *Store) GetJob(ctx context.Context, id uuid.UUID) (*store.Job, error) {
	jobs, err := s.jobs(ctx, `SELECT `+jobColumns+` FROM bulk_jobs WHERE id = $1`, id)
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
	return s.jobs(ctx, `SELECT `+jobColumns+` FROM bulk_jobs WHERE status = $1 ORDER BY created, id`, status)
}

func (s *Store) jobs(ctx context.Context, query string, args ...any) ([]*store.Job, error) {
	if s.rclosed.Load() {
		return nil, store.ErrClosed
	}
	out, err := collect(ctx, s, query, args, func(row pgx.Row) (*store.Job, error) {
		var j store.Job
		var faults []byte
		if err := row.Scan(&j.ID, &j.Spec, &j.Principal, &j.Status, &j.Cursor, &j.Matched, &j.Done, &j.OK,
			&faults, &j.Error, &j.Created, &j.Updated); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(faults, &j.Faults); err != nil {
			return nil, fmt.Errorf("postgres: job %s: bad faults %q: %w", j.ID, faults, err)
		}
		if len(j.Faults) == 0 {
			j.Faults = nil
		}
		j.Created, j.Updated = j.Created.UTC(), j.Updated.UTC()
		return &j, nil
	})
	return out, s.readErr(err)
}

// JobItems returns a page of the job's items in Seq order.
func (s *Store) JobItems(ctx context.Context, id uuid.UUID, after int64, limit int) ([]store.JobItem, error) {
	if s.rclosed.Load() {
		return nil, store.ErrClosed
	}
	out, err := collect(ctx, s, `SELECT seq, instance_id, outcome, detail, time FROM bulk_job_items
		WHERE job_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, []any{id, after, limitArg(limit)},
		func(row pgx.Row) (store.JobItem, error) {
			var it store.JobItem
			err := row.Scan(&it.Seq, &it.Instance, &it.Outcome, &it.Detail, &it.Time)
			it.Time = it.Time.UTC()
			return it, err
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
	err := s.query(ctx, `SELECT instance_id FROM bulk_job_items WHERE job_id = $1 AND instance_id = ANY ($2)`,
		[]any{id, instances}, func(row pgx.Row) error {
			var in uuid.UUID
			if err := row.Scan(&in); err != nil {
				return err
			}
			out[in] = true
			return nil
		})
	if err != nil {
		return nil, s.readErr(err)
	}
	return out, nil
}

// PurgeRecords deletes up to limit of the oldest tracking records older than before whose
// instance exists and is not Completed (Active or Suspended, which instances_state serves).
// Records another node is purging at the same moment (locked) are left to it.
func (s *Store) PurgeRecords(ctx context.Context, before time.Time, limit int) (int64, error) {
	var n int64
	err := s.submit(ctx, &request{apply: func(t *tx) error {
		tag, err := t.exec(`WITH doomed AS (
			SELECT r.seq FROM tracking_records AS r JOIN instances AS i ON i.id = r.instance_id
			WHERE r.time < $1 AND i.state IN ('Active', 'Suspended') ORDER BY r.time LIMIT $2
			FOR UPDATE OF r SKIP LOCKED)
			DELETE FROM tracking_records AS r USING doomed WHERE r.seq = doomed.seq`, dialect.Time(backend.CeilMS(before)), max(limit, 1))
		n = tag.RowsAffected()
		return err
	}})
	return n, err
}

func faultsJSON(faults map[string]int64) ([]byte, error) {
	if len(faults) == 0 {
		return []byte("{}"), nil
	}
	return json.Marshal(faults)
}
