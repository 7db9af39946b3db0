package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// SQLite is the SQLite backend of Store (modernc.org/sqlite, no cgo).
//
// The database runs in WAL mode with synchronous=FULL, so a commit is durable once it returns.
// All writes go through one connection owned by one goroutine that practises group commit:
// it takes every Commit call waiting in its queue, applies them in one BEGIN IMMEDIATE
// transaction (each call inside its own SAVEPOINT, so one call's ErrConflict/ErrExists/...
// rolls back only that call's changes), COMMITs once (one fsync) and then answers every
// caller. Reads use a separate pool of query-only connections and never wait for the writer.
//
// SQLITE_BUSY never reaches a caller: connections have a busy timeout, and the writer and
// the readers retry with backoff when it expires (the writer until it succeeds, readers until
// their context is done).
type SQLite struct {
	opts options

	wdb   *sql.DB // one connection, owned by the writer goroutine
	wconn *sql.Conn
	w     *writer
	rdb   *sql.DB // query-only pool

	mu      sync.RWMutex // guards closed and sends on queue (so Close can close queue safely)
	closed  bool
	rclosed atomic.Bool // closed, readable without the lock
	queue   chan *request
	done    chan struct{} // closed when the writer goroutine has exited

	commits, failed, batches, batchedChanges atomic.Uint64
	maxBatch                                 atomic.Int64
}

var _ Store = (*SQLite)(nil)

// Option configures OpenSQLite.
type Option func(*options)

type options struct {
	clock       func() time.Time
	busyTimeout time.Duration
	maxBatch    int
	queueLen    int
	readConns   int
}

// WithClock sets the clock used for Created, Updated, record times and migration times
// (default time.Now). Times are stored in UTC with millisecond precision.
func WithClock(now func() time.Time) Option { return func(o *options) { o.clock = now } }

// WithBusyTimeout sets SQLite's busy_timeout for every connection (default 5s). Whatever it is,
// SQLITE_BUSY is retried and never returned.
func WithBusyTimeout(d time.Duration) Option { return func(o *options) { o.busyTimeout = d } }

// WithMaxBatch caps how many Commit calls share one transaction (default 0: no cap).
// WithMaxBatch(1) disables group commit: one transaction, and one fsync, per Commit call.
func WithMaxBatch(n int) Option { return func(o *options) { o.maxBatch = n } }

// WithReadConns sets the size of the read pool (default max(4, GOMAXPROCS)).
func WithReadConns(n int) Option { return func(o *options) { o.readConns = n } }

// Stats are counters of the writer since open.
type Stats struct {
	Commits        uint64 // Commit calls that succeeded
	Failed         uint64 // Commit calls that reached the writer and failed
	Batches        uint64 // transactions committed by the writer
	BatchedChanges uint64 // Changes applied successfully
	MaxBatch       int    // the most Commit calls answered by one transaction
}

// Stats returns the writer's counters.
func (s *SQLite) Stats() Stats {
	return Stats{
		Commits:        s.commits.Load(),
		Failed:         s.failed.Load(),
		Batches:        s.batches.Load(),
		BatchedChanges: s.batchedChanges.Load(),
		MaxBatch:       int(s.maxBatch.Load()),
	}
}

// OpenSQLite opens (creating if needed) the database file at path, applies the embedded
// migrations and starts the writer. path is a file name (no "file:" URI, no '?').
// It fails with ErrSchemaTooNew if the database was migrated by a newer binary.
func OpenSQLite(ctx context.Context, path string, opts ...Option) (*SQLite, error) {
	ms, err := loadMigrations(embeddedMigrations, "migrations")
	if err != nil {
		return nil, err
	}
	return openSQLite(ctx, path, ms, opts...)
}

func openSQLite(ctx context.Context, path string, ms []migration, opts ...Option) (_ *SQLite, err error) {
	o := options{
		clock:       time.Now,
		busyTimeout: 5 * time.Second,
		queueLen:    4096,
		readConns:   max(4, runtime.GOMAXPROCS(0)),
	}
	for _, opt := range opts {
		opt(&o)
	}
	if path == "" || path == ":memory:" || strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("store: OpenSQLite needs a plain file path, got %q", path)
	}
	if o.readConns < 1 {
		o.readConns = 1
	}
	s := &SQLite{opts: o, queue: make(chan *request, o.queueLen), done: make(chan struct{})}
	defer func() {
		if err != nil {
			s.closeDBs()
		}
	}()

	s.wdb, err = sql.Open("sqlite", dsn(path, o.busyTimeout, false))
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	s.wdb.SetMaxOpenConns(1)
	s.wdb.SetMaxIdleConns(1)
	s.wdb.SetConnMaxLifetime(0)
	s.wdb.SetConnMaxIdleTime(0)
	if s.wconn, err = s.wdb.Conn(ctx); err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	var mode string
	if err = retry(ctx, func() error {
		return s.wconn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode)
	}); err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		return nil, fmt.Errorf("store: open %s: journal_mode is %q, want wal", path, mode)
	}
	if err = migrate(ctx, s.wconn, ms, o.clock); err != nil {
		return nil, err
	}
	if s.w, err = newWriter(ctx, s.wconn); err != nil {
		return nil, err
	}

	s.rdb, err = sql.Open("sqlite", dsn(path, o.busyTimeout, true))
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	s.rdb.SetMaxOpenConns(o.readConns)
	s.rdb.SetMaxIdleConns(o.readConns)
	s.rdb.SetConnMaxLifetime(0)
	if err = retry(ctx, func() error { return s.rdb.PingContext(ctx) }); err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}

	go s.run()
	return s, nil
}

func dsn(path string, busy time.Duration, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(FULL)")
	}
	return path + "?" + q.Encode()
}

// Close stops accepting commits, lets the writer finish every Commit already queued, then
// closes the database. Later calls of any method, Close included, return ErrClosed.
func (s *SQLite) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.closed = true
	s.rclosed.Store(true)
	close(s.queue)
	s.mu.Unlock()
	<-s.done
	return s.closeDBs()
}

func (s *SQLite) closeDBs() error {
	var errs []error
	if s.w != nil {
		errs = append(errs, s.w.close())
	}
	if s.wconn != nil {
		errs = append(errs, s.wconn.Close())
	}
	if s.rdb != nil {
		errs = append(errs, s.rdb.Close())
	}
	if s.wdb != nil {
		errs = append(errs, s.wdb.Close())
	}
	return errors.Join(errs...)
}

// ---- reads ----

const instanceColumns = `id, definition_name, definition_package, definition_version, state, completion,
	suspension_reason, suspension_exception, completion_reason, blocking_bookmarks, pending_timer,
	execution_status, image, image IS NULL, variables, version, lock_owner, lock_expiry, created, updated`

type scanner interface{ Scan(dest ...any) error }

func scanInstance(sc scanner) (*Instance, error) {
	var (
		in                 Instance
		id, bookmarks      string
		state, completion  string
		image              []byte
		imageNull          bool
		variables          sql.NullString
		pending, lockExp   sql.NullInt64
		created, updatedMS int64
	)
	if err := sc.Scan(&id, &in.Definition.Name, &in.Definition.Package, &in.Definition.Version, &state, &completion,
		&in.SuspensionReason, &in.SuspensionException, &in.CompletionReason, &bookmarks, &pending,
		&in.ExecutionStatus, &image, &imageNull, &variables, &in.Version, &in.LockOwner, &lockExp, &created, &updatedMS); err != nil {
		return nil, err
	}
	var err error
	if in.ID, err = uuid.Parse(id); err != nil {
		return nil, fmt.Errorf("store: bad instance id %q in database: %w", id, err)
	}
	in.State, in.Completion = State(state), Completion(completion)
	if err := json.Unmarshal([]byte(bookmarks), &in.Bookmarks); err != nil {
		return nil, fmt.Errorf("store: instance %s: bad blocking_bookmarks: %w", id, err)
	}
	if len(in.Bookmarks) == 0 {
		in.Bookmarks = nil
	}
	in.PendingTimer = fromNullMS(pending)
	in.LockExpiry = fromNullMS(lockExp)
	if !imageNull && image == nil {
		image = []byte{} // the driver reads an empty blob as nil; keep nil and empty apart
	}
	in.Image = image
	if variables.Valid {
		in.Variables = []byte(variables.String)
		if in.Variables == nil {
			in.Variables = []byte{}
		}
	}
	in.Created, in.Updated = fromMS(created), fromMS(updatedMS)
	return &in, nil
}

func (s *SQLite) readErr(err error) error {
	if err != nil && (s.rclosed.Load() || strings.Contains(err.Error(), "sql: database is closed")) {
		return ErrClosed
	}
	return err
}

// Get returns the instance or ErrNotFound.
func (s *SQLite) Get(ctx context.Context, id uuid.UUID) (*Instance, error) {
	if s.rclosed.Load() {
		return nil, ErrClosed
	}
	var in *Instance
	err := retry(ctx, func() error {
		var err error
		in, err = scanInstance(s.rdb.QueryRowContext(ctx, "SELECT "+instanceColumns+" FROM instances WHERE id = ?", id.String()))
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return nil, s.readErr(err)
	}
	return in, nil
}

// List returns the instances in q.State (all if ""), oldest Created first (ties by id).
func (s *SQLite) List(ctx context.Context, q Query) ([]*Instance, error) {
	if s.rclosed.Load() {
		return nil, ErrClosed
	}
	query := "SELECT " + instanceColumns + " FROM instances"
	var args []any
	if q.State != "" {
		query += " WHERE state = ?"
		args = append(args, string(q.State))
	}
	query += " ORDER BY created, id LIMIT ?"
	args = append(args, limitArg(q.Limit))
	var out []*Instance
	err := retry(ctx, func() error {
		out = out[:0]
		return s.query(ctx, query, args, func(rows *sql.Rows) error {
			in, err := scanInstance(rows)
			if err == nil {
				out = append(out, in)
			}
			return err
		})
	})
	return out, s.readErr(err)
}

// Records returns the tracking records of instance id with Seq > after, in Seq order. An id that
// has no records (unknown or deleted without records) gives an empty result, not ErrNotFound.
func (s *SQLite) Records(ctx context.Context, id uuid.UUID, after int64) ([]Record, error) {
	if s.rclosed.Load() {
		return nil, ErrClosed
	}
	var out []Record
	err := retry(ctx, func() error {
		out = out[:0]
		return s.query(ctx, `SELECT seq, instance_id, time, kind, name, activity, reason, principal, data
			FROM tracking_records WHERE instance_id = ? AND seq > ? ORDER BY seq`,
			[]any{id.String(), after}, func(rows *sql.Rows) error {
				var r Record
				var iid, kind string
				var t int64
				if err := rows.Scan(&r.Seq, &iid, &t, &kind, &r.Name, &r.Activity, &r.Reason, &r.Principal, &r.Data); err != nil {
					return err
				}
				var err error
				if r.InstanceID, err = uuid.Parse(iid); err != nil {
					return fmt.Errorf("store: bad record instance id %q: %w", iid, err)
				}
				r.Kind, r.Time = RecordKind(kind), fromMS(t)
				out = append(out, r)
				return nil
			})
	})
	return out, s.readErr(err)
}

// DueTimers returns up to limit (0: no limit) ids of Active instances whose PendingTimer <= now,
// earliest due first.
func (s *SQLite) DueTimers(ctx context.Context, now time.Time, limit int) ([]uuid.UUID, error) {
	return s.ids(ctx, `SELECT id FROM instances INDEXED BY instances_due_timer
		WHERE state = 'Active' AND pending_timer IS NOT NULL AND pending_timer <= ?
		ORDER BY pending_timer, id LIMIT ?`, now.UnixMilli(), limitArg(limit))
}

// NextTimer returns the earliest PendingTimer of an Active instance; false if there is none.
func (s *SQLite) NextTimer(ctx context.Context) (time.Time, bool, error) {
	if s.rclosed.Load() {
		return time.Time{}, false, ErrClosed
	}
	var ms int64
	err := retry(ctx, func() error {
		return s.rdb.QueryRowContext(ctx, `SELECT pending_timer FROM instances INDEXED BY instances_due_timer
			WHERE state = 'Active' AND pending_timer IS NOT NULL ORDER BY pending_timer LIMIT 1`).Scan(&ms)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, s.readErr(err)
	}
	return fromMS(ms), true, nil
}

// Runnable returns the ids of Active instances whose ExecutionStatus is "Executing", by id.
func (s *SQLite) Runnable(ctx context.Context) ([]uuid.UUID, error) {
	return s.ids(ctx, `SELECT id FROM instances INDEXED BY instances_runnable
		WHERE state = 'Active' AND execution_status = 'Executing' ORDER BY id`)
}

func (s *SQLite) ids(ctx context.Context, query string, args ...any) ([]uuid.UUID, error) {
	if s.rclosed.Load() {
		return nil, ErrClosed
	}
	var out []uuid.UUID
	err := retry(ctx, func() error {
		out = out[:0]
		return s.query(ctx, query, args, func(rows *sql.Rows) error {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			u, err := uuid.Parse(id)
			if err != nil {
				return fmt.Errorf("store: bad instance id %q in database: %w", id, err)
			}
			out = append(out, u)
			return nil
		})
	})
	return out, s.readErr(err)
}

func (s *SQLite) query(ctx context.Context, query string, args []any, row func(*sql.Rows) error) error {
	rows, err := s.rdb.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

func limitArg(n int) int64 {
	if n <= 0 {
		return -1
	}
	return int64(n)
}

// ---- time encoding: INTEGER unix milliseconds, UTC ----

func toMS(t time.Time) int64 { return t.UnixMilli() }

func toNullMS(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

func fromMS(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func fromNullMS(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMS(v.Int64)
}

// msNow is the clock's now in UTC, truncated to what the database stores.
func msNow(clock func() time.Time) time.Time { return fromMS(clock().UnixMilli()) }
