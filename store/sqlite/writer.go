package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// Commit applies changes atomically (all of this call's changes or none) and returns once
// they are committed and fsync'd. ctx is honoured only while the call waits in the queue:
// once the writer has taken it into a transaction, Commit returns the true outcome.
//
// On success, for each Insert the Instance gets Version=1 and Created=Updated=now; for each
// Update Version is incremented and Updated=now; each Record gets its Seq, its InstanceID
// (when it was uuid.Nil) and its Time (now when zero; otherwise normalised to UTC ms). On
// failure nothing of this call is applied and those fields are left as they were.
//
// Update and Delete fail with ErrNotFound if the instance does not exist and ErrConflict if
// its stored version differs from Instance.Version (Delete with Version 0 skips the check);
// Insert fails with ErrExists; Track fails with ErrNotFound if the instance does not exist.
func (s *SQLite) Commit(ctx context.Context, changes ...Change) error {
	if err := ValidateChanges(changes); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(changes) == 0 {
		if s.rclosed.Load() {
			return ErrClosed
		}
		return nil
	}
	req := &request{changes: changes, done: make(chan error, 1)}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return ErrClosed
	}
	select {
	case s.queue <- req:
		s.mu.RUnlock()
	case <-ctx.Done():
		s.mu.RUnlock()
		return ctx.Err()
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		if req.state.CompareAndSwap(reqQueued, reqCanceled) {
			return ctx.Err() // the writer will skip it
		}
		return <-req.done // already in a batch: wait for the true outcome
	}
}

const (
	reqQueued int32 = iota
	reqStarted
	reqCanceled
)

// request is one Commit call waiting for the writer.
type request struct {
	changes []Change
	state   atomic.Int32
	done    chan error // buffered(1): the writer never blocks answering
}

// run is the writer goroutine: group commit until the queue is closed and drained.
func (s *SQLite) run() {
	defer close(s.done)
	var batch []*request
	take := func(r *request) {
		if r.state.CompareAndSwap(reqQueued, reqStarted) {
			batch = append(batch, r)
		}
	}
	for req := range s.queue {
		batch = batch[:0]
		take(req)
	drain:
		for s.opts.maxBatch <= 0 || len(batch) < s.opts.maxBatch {
			select {
			case r, ok := <-s.queue:
				if !ok {
					break drain
				}
				take(r)
			default:
				break drain
			}
		}
		if len(batch) > 0 {
			s.commitBatch(batch)
		}
		clear(batch) // drop references for the GC
	}
}

// commitBatch runs one transaction for batch, retrying the whole batch while SQLite is busy,
// and answers every request.
func (s *SQLite) commitBatch(batch []*request) {
	errs := make([]error, len(batch))
	for n := 0; ; n++ {
		err := s.w.tryBatch(batch, errs, s.opts.clock)
		if err == nil {
			break
		}
		if isBusy(err) {
			time.Sleep(backoff(n))
			continue
		}
		for i := range errs {
			errs[i] = err
		}
		break
	}
	// Count before answering, so a caller that returned sees its commit in Stats.
	ok := 0
	for i, r := range batch {
		if errs[i] == nil {
			ok++
			s.batchedChanges.Add(uint64(len(r.changes)))
		}
	}
	s.commits.Add(uint64(ok))
	s.failed.Add(uint64(len(batch) - ok))
	if ok > 0 {
		s.batches.Add(1)
		for {
			m := s.maxBatch.Load()
			if int64(len(batch)) <= m || s.maxBatch.CompareAndSwap(m, int64(len(batch))) {
				break
			}
		}
	}
	for i, r := range batch {
		r.done <- errs[i]
	}
}

// writer owns the write connection and its prepared statements.
type writer struct {
	conn                                       *sql.Conn
	insert, update, del, delVersion, versionOf *sql.Stmt
	insertRecord                               *sql.Stmt
}

func newWriter(ctx context.Context, conn *sql.Conn) (*writer, error) {
	w := &writer{conn: conn}
	for _, p := range []struct {
		st   **sql.Stmt
		text string
	}{
		{&w.insert, `INSERT INTO instances (id, definition_name, definition_package, definition_version, state,
			completion, suspension_reason, suspension_exception, completion_reason, blocking_bookmarks,
			pending_timer, execution_status, image, variables, lock_owner, lock_expiry, version, created, updated)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)
			ON CONFLICT (id) DO NOTHING`},
		{&w.update, `UPDATE instances SET definition_name = ?, definition_package = ?, definition_version = ?,
			state = ?, completion = ?, suspension_reason = ?, suspension_exception = ?, completion_reason = ?,
			blocking_bookmarks = ?, pending_timer = ?, execution_status = ?, image = ?, variables = ?,
			lock_owner = ?, lock_expiry = ?, version = version + 1, updated = ?
			WHERE id = ? AND version = ?`},
		{&w.del, `DELETE FROM instances WHERE id = ?`},
		{&w.delVersion, `DELETE FROM instances WHERE id = ? AND version = ?`},
		{&w.versionOf, `SELECT version FROM instances WHERE id = ?`},
		{&w.insertRecord, `INSERT INTO tracking_records (instance_id, time, kind, name, activity, reason, principal, data)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`},
	} {
		st, err := conn.PrepareContext(ctx, p.text)
		if err != nil {
			w.close()
			return nil, fmt.Errorf("store: prepare: %w", err)
		}
		*p.st = st
	}
	return w, nil
}

func (w *writer) close() error {
	var errs []error
	for _, st := range []*sql.Stmt{w.insert, w.update, w.del, w.delVersion, w.versionOf, w.insertRecord} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}

// tryBatch applies batch in one transaction. Per-request failures (ErrConflict, ...) are put in
// errs and roll back only that request's savepoint. A non-nil return means the whole
// transaction was rolled back (and every write-back undone); the caller retries it if busy.
func (w *writer) tryBatch(batch []*request, errs []error, clock func() time.Time) error {
	ctx := context.Background() // a batch, once started, is not interrupted
	if _, err := w.conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return err
	}
	var undos []*undo
	fail := func(err error) error {
		_, _ = w.conn.ExecContext(ctx, "ROLLBACK")
		for i := len(undos) - 1; i >= 0; i-- {
			undos[i].restore()
		}
		return err
	}
	for i, req := range batch {
		if _, err := w.conn.ExecContext(ctx, "SAVEPOINT req"); err != nil {
			return fail(err)
		}
		u := &undo{}
		err := w.apply(ctx, req.changes, msNow(clock), u)
		if err == nil {
			if _, err := w.conn.ExecContext(ctx, "RELEASE req"); err != nil {
				u.restore()
				return fail(err)
			}
			undos = append(undos, u)
			errs[i] = nil
			continue
		}
		u.restore()
		if isBusy(err) {
			return fail(err)
		}
		if _, rerr := w.conn.ExecContext(ctx, "ROLLBACK TO req"); rerr != nil {
			return fail(fmt.Errorf("%w (rollback to savepoint: %v)", err, rerr))
		}
		if _, rerr := w.conn.ExecContext(ctx, "RELEASE req"); rerr != nil {
			return fail(fmt.Errorf("%w (release savepoint: %v)", err, rerr))
		}
		errs[i] = err
	}
	if err := execRetry(ctx, w.conn, "COMMIT"); err != nil {
		return fail(err)
	}
	return nil
}

// undo remembers the caller-visible fields a request's write-backs changed.
type undo struct {
	insts []instUndo
	recs  []recUndo
}

type instUndo struct {
	p                *Instance
	version          int64
	created, updated time.Time
}

type recUndo struct {
	p   *Record
	old Record
}

func (u *undo) restore() {
	for i := len(u.recs) - 1; i >= 0; i-- {
		*u.recs[i].p = u.recs[i].old
	}
	for i := len(u.insts) - 1; i >= 0; i-- {
		x := u.insts[i]
		x.p.Version, x.p.Created, x.p.Updated = x.version, x.created, x.updated
	}
	u.recs, u.insts = nil, nil
}

// apply executes one request's changes, writing back into the caller's structs as it goes
// (recorded in u so a rollback can undo them; later changes of the same call see earlier ones).
func (w *writer) apply(ctx context.Context, changes []Change, now time.Time, u *undo) error {
	for _, c := range changes {
		in := c.Instance
		id := in.ID.String()
		switch c.Op {
		case Insert:
			cols, err := columns(in)
			if err != nil {
				return err
			}
			res, err := w.insert.ExecContext(ctx, append(append([]any{id}, cols...), toMS(now), toMS(now))...)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 0 {
				return fmt.Errorf("%w: %s", ErrExists, in.ID)
			}
			u.insts = append(u.insts, instUndo{in, in.Version, in.Created, in.Updated})
			in.Version, in.Created, in.Updated = 1, now, now
		case Update:
			cols, err := columns(in)
			if err != nil {
				return err
			}
			res, err := w.update.ExecContext(ctx, append(cols, toMS(now), id, in.Version)...)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 0 {
				return w.whyNot(ctx, in)
			}
			u.insts = append(u.insts, instUndo{in, in.Version, in.Created, in.Updated})
			in.Version, in.Updated = in.Version+1, now
		case Delete:
			var res sql.Result
			var err error
			if in.Version == 0 {
				res, err = w.del.ExecContext(ctx, id)
			} else {
				res, err = w.delVersion.ExecContext(ctx, id, in.Version)
			}
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 0 {
				return w.whyNot(ctx, in)
			}
		case Track:
			var v int64
			if err := w.versionOf.QueryRowContext(ctx, id).Scan(&v); errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("%w: %s", ErrNotFound, in.ID)
			} else if err != nil {
				return err
			}
		}
		for j := range c.Records {
			r := &c.Records[j]
			u.recs = append(u.recs, recUndo{r, *r})
			if r.InstanceID == uuid.Nil {
				r.InstanceID = in.ID
			}
			if r.Time.IsZero() {
				r.Time = now
			} else {
				r.Time = fromMS(r.Time.UnixMilli())
			}
			res, err := w.insertRecord.ExecContext(ctx, id, toMS(r.Time), string(r.Kind), r.Name, r.Activity,
				r.Reason, r.Principal, r.Data)
			if err != nil {
				return err
			}
			if r.Seq, err = res.LastInsertId(); err != nil {
				return err
			}
		}
	}
	return nil
}

// whyNot explains a conditional UPDATE/DELETE that matched no row.
func (w *writer) whyNot(ctx context.Context, in *Instance) error {
	var v int64
	err := w.versionOf.QueryRowContext(ctx, in.ID.String()).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: %s", ErrNotFound, in.ID)
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("%w: %s is at version %d, change was based on %d", ErrConflict, in.ID, v, in.Version)
}

// columns returns the instance's column values in the order shared by the insert and update
// statements: definition (3), state, completion, suspension reason and exception, completion
// reason, bookmarks, pending timer, execution status, image, variables, lock owner, lock expiry.
func columns(in *Instance) ([]any, error) {
	bookmarks := "[]"
	if len(in.Bookmarks) > 0 {
		b, err := json.Marshal(in.Bookmarks)
		if err != nil {
			return nil, err
		}
		bookmarks = string(b)
	}
	var image, variables any
	if in.Image != nil {
		image = in.Image
		if len(in.Image) == 0 {
			image = emptyBlob
		}
	}
	if in.Variables != nil {
		variables = string(in.Variables)
	}
	return []any{in.Definition.Name, in.Definition.Package, in.Definition.Version, string(in.State),
		string(in.Completion), in.SuspensionReason, in.SuspensionException, in.CompletionReason, bookmarks,
		toNullMS(in.PendingTimer), in.ExecutionStatus, image, variables, in.LockOwner, toNullMS(in.LockExpiry)}, nil
}

// emptyBlob is bound for a non-nil empty image: a zero-length blob, not NULL.
var emptyBlob = []byte{}
