// Package sqlite is the SQLite backend of store.Store (modernc.org/sqlite, no cgo), wimp's
// embedded default. One server process uses a database file at a time.
package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/store/internal/backend"
	"github.com/wimp-project/wimp/workflow"
)

// ErrInUse is returned by Open when another process has the database open: SQLite is the
// single-node backend, and two hosts on one file would execute the same instances.
var ErrInUse = errors.New("database in use")

// ErrUnwritable is returned by Open when the database cannot be written (a read-only or
// immutable file or directory, a full disk, an I/O error): a host could not keep anything.
var ErrUnwritable = errors.New("database cannot be written")

// Store is the SQLite backend of store.Store.
//
// The database runs in WAL mode with synchronous=FULL, so a commit is durable once it returns.
// All writes go through one connection owned by one goroutine that practises group commit:
// it takes every request waiting in its queue, applies them in one BEGIN IMMEDIATE
// transaction (each inside its own SAVEPOINT, so one call's ErrConflict/ErrExists/... rolls
// back only that call's changes), COMMITs once (one fsync) and then answers every caller.
// Reads use a separate pool of query-only connections and never wait for the writer.
//
// SQLITE_BUSY never reaches a caller: readers retry while their context lasts; the writer
// retries until each waiting request's write timeout, after which that request is answered
// store.ErrTimeout and dropped, never to be applied.
//
// Open takes an exclusive advisory lock (flock on "<db>-lock") for the life of the Store, so a
// second process is refused at once; owners registered by earlier processes are therefore
// dead, and Open frees their leases.
type Store struct {
	opts options
	lock *os.File // holds the flock; closed last

	wdb   *sql.DB // one connection, owned by the writer goroutine
	wconn *sql.Conn
	w     *writer
	rdb   *sql.DB   // query-only pool
	reads stmtCache // rdb's prepared statements

	rclosed atomic.Bool // closed: set when the queue is closed
	queue   *backend.Queue[*request]
	done    chan struct{} // closed when the writer goroutine has exited

	commits, failed, batches, batchedChanges atomic.Uint64
	maxBatch                                 atomic.Int64

	images imageMemo // the images written last, packed
}

var _ store.Store = (*Store)(nil)

// Option configures Open.
type Option func(*options)

type options struct {
	clock        func() time.Time
	busyTimeout  time.Duration
	writeTimeout time.Duration
	maxBatch     int
	queueLen     int
	readConns    int
	observer     func(store.BatchInfo) // WithObserver; nil: none
}

// WithClock sets the clock used for Created, Updated, record times, owner expiry and migration
// times (default time.Now). Times are stored in UTC with millisecond precision.
func WithClock(now func() time.Time) Option { return func(o *options) { o.clock = now } }

// WithBusyTimeout sets SQLite's busy_timeout for the read connections (default 5s). Whatever it
// is, SQLITE_BUSY is retried and never returned.
func WithBusyTimeout(d time.Duration) Option { return func(o *options) { o.busyTimeout = d } }

// WithWriteTimeout bounds how long a write may wait for the database (default 5s; for example
// while another process holds SQLite's write lock). A request still unapplied then fails with
// store.ErrTimeout and is never applied.
func WithWriteTimeout(d time.Duration) Option { return func(o *options) { o.writeTimeout = d } }

// WithMaxBatch caps how many requests share one transaction (default 0: no cap).
// WithMaxBatch(1) disables group commit: one transaction, and one fsync, per Commit call.
func WithMaxBatch(n int) Option { return func(o *options) { o.maxBatch = n } }

// WithReadConns sets the size of the read pool (default max(4, GOMAXPROCS)).
func WithReadConns(n int) Option { return func(o *options) { o.readConns = n } }

// Stats are counters of the writer since open.
type Stats struct {
	Commits        uint64 // requests that succeeded
	Failed         uint64 // requests that reached the writer and failed
	TimedOut       uint64 // requests answered store.ErrTimeout
	Batches        uint64 // transactions committed by the writer
	BatchedChanges uint64 // Changes applied successfully
	MaxBatch       int    // the most requests answered by one transaction
}

// Stats returns the writer's counters.
func (s *Store) Stats() Stats {
	return Stats{
		Commits:        s.commits.Load(),
		Failed:         s.failed.Load(),
		TimedOut:       s.queue.Timeouts.Load(),
		Batches:        s.batches.Load(),
		BatchedChanges: s.batchedChanges.Load(),
		MaxBatch:       int(s.maxBatch.Load()),
	}
}

// Open opens (creating if needed) the database file at path, applies the embedded migrations
// and starts the writer. path is a file name (no "file:" URI, no '?'). It fails with ErrInUse
// (naming the owners it finds registered) if another process has the file open, and with
// ErrSchemaTooNew if the database was migrated by a newer binary.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	ms, err := loadMigrations(embeddedMigrations, "migrations")
	if err != nil {
		return nil, err
	}
	return open(ctx, path, ms, opts...)
}

// writerBusyTimeout is SQLite's own wait on the write connection: short, so the writer's
// retry loop notices expired requests promptly.
const writerBusyTimeout = 20 * time.Millisecond

func open(ctx context.Context, path string, ms []migration, opts ...Option) (_ *Store, err error) {
	o := options{
		clock:        time.Now,
		busyTimeout:  5 * time.Second,
		writeTimeout: 5 * time.Second,
		queueLen:     4096,
		readConns:    max(4, runtime.GOMAXPROCS(0)),
	}
	for _, opt := range opts {
		opt(&o)
	}
	if path == "" || path == ":memory:" || strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlite: Open needs a plain file path, got %q", path)
	}
	if o.readConns < 1 {
		o.readConns = 1
	}
	if o.writeTimeout <= 0 {
		o.writeTimeout = 5 * time.Second
	}
	s := &Store{opts: o, queue: backend.NewQueue[*request](o.queueLen, o.writeTimeout, "the writer's queue"), done: make(chan struct{})}
	defer func() {
		if err != nil {
			s.closeDBs()
		}
	}()
	if s.lock, err = lockFile(path); err != nil {
		if errors.Is(err, errLocked) {
			return nil, inUse(ctx, path, o)
		}
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}

	s.wdb, err = sql.Open("sqlite", dsn(path, writerBusyTimeout, false))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s.wdb.SetMaxOpenConns(1)
	s.wdb.SetMaxIdleConns(1)
	s.wdb.SetConnMaxLifetime(0)
	s.wdb.SetConnMaxIdleTime(0)
	if s.wconn, err = s.wdb.Conn(ctx); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	var mode string
	if err = retry(ctx, func() error {
		return s.wconn.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode)
	}); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		return nil, fmt.Errorf("sqlite: open %s: journal_mode is %q, want wal", path, mode)
	}
	if err = migrate(ctx, s.wconn, ms, o.clock); err != nil {
		return nil, err
	}
	if err = freeDeadOwners(ctx, s.wconn); err != nil {
		return nil, fmt.Errorf("%w: %s: %v (wimp-server must write its database: check the file's and directory's permissions and flags, and the disk)",
			ErrUnwritable, path, err)
	}
	if s.w, err = newWriter(ctx, s.wconn); err != nil {
		return nil, err
	}

	s.rdb, err = sql.Open("sqlite", dsn(path, o.busyTimeout, true))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s.rdb.SetMaxOpenConns(o.readConns)
	s.rdb.SetMaxIdleConns(o.readConns)
	s.rdb.SetConnMaxLifetime(0)
	if err = retry(ctx, func() error { return s.rdb.PingContext(ctx) }); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}

	go s.run()
	return s, nil
}

// freeDeadOwners forgets every owner registered in the file and frees their leases: this
// process holds the file's lock, so whoever registered them has exited. It is also Open's
// first write, so an unwritable database is found here.
func freeDeadOwners(ctx context.Context, conn *sql.Conn) error {
	return retry(ctx, func() error {
		if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
			return err
		}
		_, err := conn.ExecContext(ctx, "UPDATE instances SET lease_owner = '' WHERE lease_owner != ''")
		if err == nil {
			_, err = conn.ExecContext(ctx, "DELETE FROM owners")
		}
		if err == nil {
			_, err = conn.ExecContext(ctx, "COMMIT")
		}
		if err != nil {
			_, _ = conn.ExecContext(context.Background(), "ROLLBACK")
			return err
		}
		return nil
	})
}

// inUse builds the ErrInUse error, naming the owners the other process registered.
func inUse(ctx context.Context, path string, o options) error {
	who := "another process"
	if db, err := sql.Open("sqlite", dsn(path, o.busyTimeout, true)); err == nil {
		defer db.Close()
		owners, err := readOwners(ctx, db, msNow(o.clock))
		switch {
		case err == nil && len(owners) > 0:
			var names []string
			for _, ow := range owners {
				names = append(names, ow.String())
			}
			who = strings.Join(names, ", ")
		case err == nil:
			who += " (one that has not registered as an owner yet)"
		}
	}
	return fmt.Errorf("%w: %s is held by %s; SQLite serves one wimp-server per database file: "+
		"stop the other server or use another --db (several nodes need PostgreSQL)", ErrInUse, path, who)
}

func dsn(path string, busy time.Duration, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	// Statement journals (the writer's per-request SAVEPOINTs) and sorts in memory: in a temp
	// file, every page a savepoint first touches was also written there, a pwrite each — 12% of
	// all CPU of a bench/scale timer run, profiled. Both are bounded by one request's pages or
	// one page of query results.
	q.Add("_pragma", "temp_store(MEMORY)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(FULL)")
	}
	return path + "?" + q.Encode()
}

// Close stops accepting writes, lets the writer finish every request already queued, then
// closes the database and drops the file lock. Later calls of any method, Close included,
// return store.ErrClosed.
func (s *Store) Close() error {
	if !s.queue.Close(func() { s.rclosed.Store(true) }) {
		return store.ErrClosed
	}
	<-s.done
	return s.closeDBs()
}

func (s *Store) closeDBs() error {
	var errs []error
	if s.w != nil {
		errs = append(errs, s.w.close())
	}
	if s.wconn != nil {
		errs = append(errs, s.wconn.Close())
	}
	if s.rdb != nil {
		errs = append(errs, s.reads.close(), s.rdb.Close())
	}
	if s.wdb != nil {
		errs = append(errs, s.wdb.Close())
	}
	if s.lock != nil {
		errs = append(errs, s.lock.Close()) // last: the file is free once everything is closed
	}
	return errors.Join(errs...)
}

// ---- reads ----

const instanceColumns = `id, definition_name, definition_package, definition_version, state, completion,
	suspension_reason, suspension_exception, completion_reason, blocking_bookmarks, pending_timer,
	execution_status, failures, image, image IS NULL, image_encoding, variables, completion_exception, version, lease_owner, lease_token,
	created, updated, correlation_key, current_state, properties, parent`

type scanner interface{ Scan(dest ...any) error }

func scanInstance(sc scanner) (*store.Instance, error) {
	var (
		in                 store.Instance
		id, bookmarks      string
		state, completion  string
		image              []byte
		imageNull          bool
		imageEncoding      int
		variables          sql.NullString
		pending            sql.NullInt64
		created, updatedMS int64
		key, parent        sql.NullString
		properties         string
	)
	if err := sc.Scan(&id, &in.Definition.Name, &in.Definition.Package, &in.Definition.Version, &state, &completion,
		&in.SuspensionReason, &in.SuspensionException, &in.CompletionReason, &bookmarks, &pending,
		&in.ExecutionStatus, &in.Failures, &image, &imageNull, &imageEncoding, &variables, &in.CompletionException, &in.Version,
		&in.Lease.Owner, &in.Lease.Token,
		&created, &updatedMS, &key, &in.CurrentState, &properties, &parent); err != nil {
		return nil, err
	}
	var err error
	in.CorrelationKey = key.String
	if in.Properties, err = backend.ParseProperties(properties); err != nil {
		return nil, fmt.Errorf("sqlite: instance %s: %w", id, err)
	}
	if in.ID, err = uuid.Parse(id); err != nil {
		return nil, fmt.Errorf("sqlite: bad instance id %q in database: %w", id, err)
	}
	if parent.Valid {
		if in.Parent, err = uuid.Parse(parent.String); err != nil {
			return nil, fmt.Errorf("sqlite: instance %s: bad parent id %q in database: %w", id, parent.String, err)
		}
	}
	in.State, in.Completion = workflow.State(state), workflow.Completion(completion)
	if err := json.Unmarshal([]byte(bookmarks), &in.Bookmarks); err != nil {
		return nil, fmt.Errorf("sqlite: instance %s: bad blocking_bookmarks: %w", id, err)
	}
	if len(in.Bookmarks) == 0 {
		in.Bookmarks = nil
	}
	in.PendingTimer = fromNullMS(pending)
	if !imageNull && image == nil {
		image = []byte{} // the driver reads an empty blob as nil; keep nil and empty apart
	}
	if in.Image, err = unpackImage(image, imageEncoding); err != nil {
		return nil, fmt.Errorf("sqlite: instance %s: %w", id, err)
	}
	if variables.Valid {
		in.Variables = []byte(variables.String)
		if in.Variables == nil {
			in.Variables = []byte{}
		}
	}
	in.Created, in.Updated = fromMS(created), fromMS(updatedMS)
	return &in, nil
}

func (s *Store) readErr(err error) error {
	if err != nil && (s.rclosed.Load() || strings.Contains(err.Error(), "sql: database is closed")) {
		return store.ErrClosed
	}
	return err
}

// Get returns the instance or store.ErrNotFound.
func (s *Store) Get(ctx context.Context, id uuid.UUID) (*store.Instance, error) {
	if s.rclosed.Load() {
		return nil, store.ErrClosed
	}
	var in *store.Instance
	err := retry(ctx, func() error {
		return s.queryRow(ctx, "SELECT "+instanceColumns+" FROM instances WHERE id = ?", []any{id.String()}, func(r *sql.Row) error {
			var err error
			in, err = scanInstance(r)
			return err
		})
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", store.ErrNotFound, id)
	}
	if err != nil {
		return nil, s.readErr(err)
	}
	return in, nil
}

// List returns the instances in q.State (all if ""), oldest Created first (ties by id).
func (s *Store) List(ctx context.Context, q store.Query) ([]*store.Instance, error) {
	if s.rclosed.Load() {
		return nil, store.ErrClosed
	}
	query := "SELECT " + instanceColumns + " FROM instances"
	var args []any
	if q.State != "" {
		query += " WHERE state = ?"
		args = append(args, string(q.State))
	}
	query += " ORDER BY created, id LIMIT ?"
	args = append(args, limitArg(q.Limit))
	var out []*store.Instance
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
func (s *Store) Records(ctx context.Context, id uuid.UUID, after int64) ([]workflow.Record, error) {
	if s.rclosed.Load() {
		return nil, store.ErrClosed
	}
	var out []workflow.Record
	err := retry(ctx, func() error {
		out = out[:0]
		return s.query(ctx, `SELECT first_seq, time, records FROM tracking_batches
			WHERE instance_id = ? AND last_seq > ? ORDER BY last_seq`,
			[]any{id.String(), after}, func(rows *sql.Rows) error {
				var first, at int64
				var data []byte
				if err := rows.Scan(&first, &at, &data); err != nil {
					return err
				}
				recs, err := decodeBatch(id, first, at, data, after)
				if err != nil {
					return err
				}
				out = append(out, recs...)
				return nil
			})
	})
	return out, s.readErr(err)
}

// NextTimer returns the earliest PendingTimer of an Active instance; false if there is none.
func (s *Store) NextTimer(ctx context.Context) (time.Time, bool, error) {
	if s.rclosed.Load() {
		return time.Time{}, false, store.ErrClosed
	}
	var ms int64
	err := retry(ctx, func() error {
		return s.queryRow(ctx, `SELECT pending_timer FROM instances INDEXED BY instances_due_timer
			WHERE state = 'Active' AND pending_timer IS NOT NULL ORDER BY pending_timer LIMIT 1`, nil,
			func(r *sql.Row) error { return r.Scan(&ms) })
	})
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, s.readErr(err)
	}
	return fromMS(ms), true, nil
}

// Owners lists the owners whose registration has not lapsed, by id.
func (s *Store) Owners(ctx context.Context) ([]store.Owner, error) {
	if s.rclosed.Load() {
		return nil, store.ErrClosed
	}
	var out []store.Owner
	err := retry(ctx, func() error {
		var err error
		out, err = readOwners(ctx, s.rdb, msNow(s.opts.clock))
		return err
	})
	return out, s.readErr(err)
}

// ClusterSecret is the key the store's owners share, made by the first caller.
func (s *Store) ClusterSecret(ctx context.Context) ([]byte, error) {
	if s.rclosed.Load() {
		return nil, store.ErrClosed
	}
	read := func(ctx context.Context) (secret []byte, ok bool, err error) {
		err = retry(ctx, func() error {
			return s.queryRow(ctx, `SELECT secret FROM cluster_secret WHERE id = 1`, nil,
				func(r *sql.Row) error { return r.Scan(&secret) })
		})
		if errors.Is(err, sql.ErrNoRows) {
			return nil, false, nil
		}
		return secret, err == nil, s.readErr(err)
	}
	insert := func(ctx context.Context, secret []byte) error {
		return s.submit(ctx, &request{apply: func(t *tx) error {
			_, err := t.w.conn.ExecContext(t.ctx, `INSERT INTO cluster_secret (id, secret) VALUES (1, ?) ON CONFLICT (id) DO NOTHING`, secret)
			return err
		}})
	}
	return backend.ClusterSecret(ctx, read, insert)
}

func readOwners(ctx context.Context, db *sql.DB, now time.Time) ([]store.Owner, error) {
	rows, err := db.QueryContext(ctx, `SELECT id, node, info, advertise, registered, renewed, expiry,
		(SELECT COUNT(*) FROM instances INDEXED BY instances_lease WHERE lease_owner = owners.id AND lease_owner != '')
		FROM owners WHERE expiry > ? ORDER BY id`, toMS(now))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Owner
	for rows.Next() {
		var o store.Owner
		var reg, ren, exp int64
		if err := rows.Scan(&o.ID, &o.Node, &o.Info, &o.Advertise, &reg, &ren, &exp, &o.Held); err != nil {
			return nil, err
		}
		o.Registered, o.Renewed, o.Expiry = fromMS(reg), fromMS(ren), fromMS(exp)
		out = append(out, o)
	}
	return out, rows.Err()
}

func (s *Store) query(ctx context.Context, query string, args []any, row func(*sql.Rows) error) error {
	st, release, err := s.reads.get(ctx, s.rdb, query)
	if err != nil {
		return err
	}
	defer release()
	rows, err := st.QueryContext(ctx, args...)
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

// sortClaimed orders claims by due time, then id (RETURNING gives no order).
func sortClaimed(cs []claimedRow) []store.Claimed {
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].due != cs[j].due {
			return cs[i].due < cs[j].due
		}
		return cs[i].c.ID.String() < cs[j].c.ID.String()
	})
	out := make([]store.Claimed, len(cs))
	for i := range cs {
		out[i] = cs[i].c
	}
	return out
}

// ---- time encoding: INTEGER unix milliseconds, UTC ----

func toMS(t time.Time) int64 { return t.UnixMilli() }

// nullText binds "" as NULL.
func nullText(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// nullID binds uuid.Nil as NULL, any other id in its canonical text form.
func nullID(id uuid.UUID) any {
	if id == uuid.Nil {
		return nil
	}
	return id.String()
}

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
