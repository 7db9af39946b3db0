// Package postgres is the PostgreSQL backend of store.Store (github.com/jackc/pgx/v5), for
// several wimp-server nodes sharing one database. It needs PostgreSQL 13 or later.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/store/internal/backend"
	"github.com/wimp-project/wimp/workflow"
)

// Store is the PostgreSQL backend of store.Store.
//
// Writes go through writer goroutines (one by default), each with a connection of its own,
// that practise group commit: a writer takes every request waiting in the queue (up to the
// batch cap), applies them in one READ COMMITTED transaction, each inside its own SAVEPOINT so
// that one call's ErrConflict/ErrExists/... rolls back only that call, and COMMITs once (one
// WAL flush, with synchronous_commit on) before answering every caller. A Commit of one change
// by the lease holder (or of a free instance) has a fast path, one statement that fences and
// writes the row and its records or writes nothing (fast.go); the fast statements of a batch go
// to the server in one pipeline, so a batch of persists costs a few round trips in all. Other
// requests, and fast ones that missed, take two pipelined round trips per change.
//
// Transactions of other nodes (and other writers) run concurrently. A fast statement decides
// only on its row's own columns, which PostgreSQL checks again on the row's latest version
// once it has the row's lock; the full path locks the row (SELECT ... FOR UPDATE) before it
// decides anything, and reads the lease holder's liveness in a statement of its own after the
// lock, so a decision never rests on a snapshot older than the row it changes. ClaimDue and
// ClaimRunnable pick rows with FOR UPDATE SKIP LOCKED, so two nodes never wait for, nor claim,
// the same instance. Every batch first locks the existing instance rows its requests write, in
// id order, in one statement (lockRowsSQL): batches of two nodes then never wait for each other
// in a cycle, which PostgreSQL would break only after deadlock_timeout. A deadlock (with
// another session) or a serialization failure rolls the batch back; it is retried until each request's write
// timeout, after which that request is answered store.ErrTimeout and dropped, never to be
// applied.
//
// Reads use a separate pool and never wait for the writers.
type Store struct {
	opts  options
	wpool *pgxpool.Pool // one connection per writer goroutine
	rpool *pgxpool.Pool // reads, and resolving the outcome of a COMMIT whose connection broke

	rclosed atomic.Bool // closed: set when the queue is closed
	queue   *backend.Queue[*request]
	writers sync.WaitGroup

	sinceCompact atomic.Int64 // changes committed since the counts were last compacted

	commits, failed, batches, batchedChanges, retries, resolved, fast atomic.Uint64
	compactions, compactionErrors                                     atomic.Uint64
	maxBatch                                                          atomic.Int64
}

var _ store.Store = (*Store)(nil)

// Option configures Open.
type Option func(*options)

type options struct {
	clock        func() time.Time
	writeTimeout time.Duration
	maxBatch     int
	writers      int
	readConns    int
	queueLen     int
	compactEvery int64
	noFast       bool // tests: every request takes the full path
	observer     func(store.BatchInfo)
}

// WithClock sets the clock used for Created, Updated, record and job times, owners'
// registration and expiry and migration times (default time.Now). Times are stored in UTC with
// millisecond precision. Nodes that share a database compare owners' expiry with their own
// clocks, so those must agree to well within the owners' TTL.
func WithClock(now func() time.Time) Option { return func(o *options) { o.clock = now } }

// WithWriteTimeout bounds how long a write may wait for the database (default 5s: for example
// for a row lock another node holds, or for the server while it restarts). A request still
// unapplied then fails with store.ErrTimeout and is never applied.
func WithWriteTimeout(d time.Duration) Option { return func(o *options) { o.writeTimeout = d } }

// WithMaxBatch caps how many requests share one transaction (default 64, so that a batch's
// subtransactions fit PostgreSQL's per-backend subtransaction cache: past it every snapshot
// taken while the batch runs gets slower). WithMaxBatch(1) disables group commit: one
// transaction, and one WAL flush, per Commit call.
func WithMaxBatch(n int) Option { return func(o *options) { o.maxBatch = n } }

// WithWriters sets how many writer goroutines, each with its own connection and transaction,
// take batches from the queue (default 1).
func WithWriters(n int) Option { return func(o *options) { o.writers = n } }

// WithReadConns sets the most connections reads use at once (default 3).
func WithReadConns(n int) Option { return func(o *options) { o.readConns = n } }

// Stats are counters of the writers since Open.
type Stats struct {
	Commits        uint64 // requests that succeeded
	Failed         uint64 // requests that reached a writer and failed
	TimedOut       uint64 // requests answered store.ErrTimeout
	Batches        uint64 // transactions committed by the writers
	BatchedChanges uint64 // Changes applied successfully
	MaxBatch       int    // the most requests answered by one transaction
	Retries        uint64 // batches rolled back and tried again (deadlock, lost connection, ...)
	// Fast: requests applied by their fast statement (one pipelined statement; see fast.go).
	Fast uint64
	// Resolved: COMMITs whose connection broke before the answer came, whose outcome was then
	// learned from the server (pg_xact_status).
	Resolved uint64
	// Compactions of the instance_counts deltas, and those that failed (they are tried again
	// later; counts are right either way).
	Compactions, CompactionErrors uint64
}

// Stats returns the writers' counters.
func (s *Store) Stats() Stats {
	return Stats{
		Commits:          s.commits.Load(),
		Failed:           s.failed.Load(),
		TimedOut:         s.queue.Timeouts.Load(),
		Batches:          s.batches.Load(),
		BatchedChanges:   s.batchedChanges.Load(),
		MaxBatch:         int(s.maxBatch.Load()),
		Retries:          s.retries.Load(),
		Resolved:         s.resolved.Load(),
		Fast:             s.fast.Load(),
		Compactions:      s.compactions.Load(),
		CompactionErrors: s.compactionErrors.Load(),
	}
}

// minServerVersion is PostgreSQL 13: pg_current_xact_id and pg_xact_status, which resolve a
// COMMIT whose connection broke.
const minServerVersion = 130000

// Open connects to the database at url (a postgres:// URL or a key=value connection string,
// as pgx takes them), applies the embedded migrations and starts the writers. Several nodes
// may Open the same database at once. It fails with ErrSchemaTooNew if the database was
// migrated by a newer binary.
func Open(ctx context.Context, url string, opts ...Option) (*Store, error) {
	ms, err := loadMigrations(embeddedMigrations, "migrations")
	if err != nil {
		return nil, err
	}
	return open(ctx, url, ms, opts...)
}

func open(ctx context.Context, url string, ms []migration, opts ...Option) (_ *Store, err error) {
	o := options{
		clock:        time.Now,
		writeTimeout: 5 * time.Second,
		maxBatch:     64,
		writers:      1,
		readConns:    3,
		queueLen:     4096,
		compactEvery: 1000,
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.writeTimeout <= 0 {
		o.writeTimeout = 5 * time.Second
	}
	if o.maxBatch <= 0 {
		o.maxBatch = 64
	}
	o.writers, o.readConns = max(o.writers, 1), max(o.readConns, 1)

	s := &Store{opts: o, queue: backend.NewQueue[*request](o.queueLen, o.writeTimeout, "the writers' queue")}
	defer func() {
		if err != nil {
			s.closePools()
		}
	}()
	if s.wpool, err = newPool(ctx, url, int32(o.writers), true); err != nil {
		return nil, err
	}
	if s.rpool, err = newPool(ctx, url, int32(o.readConns), false); err != nil {
		return nil, err
	}
	conn, err := s.wpool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	defer conn.Release()
	if v, err := strconv.Atoi(conn.Conn().PgConn().ParameterStatus("server_version_num")); err == nil && v < minServerVersion {
		return nil, fmt.Errorf("postgres: the server is PostgreSQL %s; wimp needs 13 or later",
			conn.Conn().PgConn().ParameterStatus("server_version"))
	}
	if err := migrate(ctx, conn.Conn(), ms, o.clock); err != nil {
		return nil, err
	}
	s.writers.Add(o.writers)
	for range o.writers {
		go s.run()
	}
	return s, nil
}

// The application_name of the store's sessions, unless url sets one.
const (
	writerAppName = "wimp store writer"
	readerAppName = "wimp store reader"
)

// newPool opens a pool of at most size connections to url. Writer connections keep
// synchronous_commit on: a database or role configured with it off would acknowledge commits
// that a crash can lose.
func newPool(ctx context.Context, url string, size int32, writer bool) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	cfg.MaxConns, cfg.MinConns = size, 0
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		// So that pg_stat_activity tells the store's sessions apart.
		name := readerAppName
		if writer {
			name = writerAppName
		}
		cfg.ConnConfig.RuntimeParams["application_name"] = name
	}
	// A canceled statement (a request's deadline passing while the batch waits for a lock)
	// is canceled on the server, which keeps the connection and releases the locks at once;
	// the default would close the connection, leaving the server's backend to hold its locks
	// until it noticed.
	cfg.ConnConfig.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: 2 * time.Second}
	}
	if writer {
		cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
			var sc string
			if err := c.QueryRow(ctx, "SHOW synchronous_commit").Scan(&sc); err != nil {
				return err
			}
			if sc == "off" {
				_, err := c.Exec(ctx, "SET synchronous_commit = on")
				return err
			}
			return nil
		}
	}
	p, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return p, nil
}

// Close stops accepting writes, lets the writers finish every request already queued, then
// closes the connections. Later calls of any method, Close included, return store.ErrClosed.
func (s *Store) Close() error {
	if !s.queue.Close(func() { s.rclosed.Store(true) }) {
		return store.ErrClosed
	}
	s.writers.Wait()
	s.closePools()
	return nil
}

func (s *Store) closePools() {
	if s.wpool != nil {
		s.wpool.Close()
	}
	if s.rpool != nil {
		s.rpool.Close()
	}
}

// ---- reads ----

const instanceColumns = `id, definition_name, definition_package, definition_version, state, completion,
	suspension_reason, suspension_exception, completion_reason, completion_exception, blocking_bookmarks,
	pending_timer, execution_status, failures, image, variables, version, lease_owner, lease_token,
	created, updated, correlation_key, current_state, properties, parent`

func scanInstance(row pgx.Row) (*store.Instance, error) {
	var (
		in                store.Instance
		state, completion string
		pending           *time.Time
		key               *string
		parent            *uuid.UUID
	)
	if err := row.Scan(&in.ID, &in.Definition.Name, &in.Definition.Package, &in.Definition.Version, &state, &completion,
		&in.SuspensionReason, &in.SuspensionException, &in.CompletionReason, &in.CompletionException, &in.Bookmarks,
		&pending, &in.ExecutionStatus, &in.Failures, &in.Image, &in.Variables, &in.Version, &in.Lease.Owner, &in.Lease.Token,
		&in.Created, &in.Updated, &key, &in.CurrentState, &in.Properties, &parent); err != nil {
		return nil, err
	}
	if key != nil {
		in.CorrelationKey = *key
	}
	if parent != nil {
		in.Parent = *parent
	}
	if len(in.Properties) == 0 {
		in.Properties = nil
	}
	in.State, in.Completion = workflow.State(state), workflow.Completion(completion)
	if len(in.Bookmarks) == 0 {
		in.Bookmarks = nil
	}
	if pending != nil {
		in.PendingTimer = pending.UTC()
	}
	in.Created, in.Updated = in.Created.UTC(), in.Updated.UTC()
	return &in, nil
}

// readErr maps the errors of a read that raced with Close to store.ErrClosed.
func (s *Store) readErr(err error) error {
	if err != nil && s.rclosed.Load() {
		return store.ErrClosed
	}
	return err
}

// Get returns the instance or store.ErrNotFound.
func (s *Store) Get(ctx context.Context, id uuid.UUID) (*store.Instance, error) {
	if s.rclosed.Load() {
		return nil, store.ErrClosed
	}
	in, err := scanInstance(s.rpool.QueryRow(ctx, "SELECT "+instanceColumns+" FROM instances WHERE id = $1", id))
	if errors.Is(err, pgx.ErrNoRows) {
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
		query += " WHERE state = $1"
		args = append(args, string(q.State))
	}
	query += fmt.Sprintf(" ORDER BY created, id LIMIT $%d", len(args)+1)
	args = append(args, limitArg(q.Limit))
	out, err := collect(ctx, s, query, args, scanInstance)
	return out, s.readErr(err)
}

// Records returns the tracking records of instance id with Seq > after, in Seq order. An id that
// has no records (unknown or deleted without records) gives an empty result, not ErrNotFound.
//
// Seqs come from a sequence, so concurrent transactions may commit them out of order; but every
// change locks its instance's row before it writes records, so one instance's records commit in
// Seq order and a reader that goes on after the last Seq it saw misses none.
func (s *Store) Records(ctx context.Context, id uuid.UUID, after int64) ([]workflow.Record, error) {
	if s.rclosed.Load() {
		return nil, store.ErrClosed
	}
	out, err := collect(ctx, s, `SELECT seq, instance_id, time, kind, name, activity, reason, principal, data
		FROM tracking_records WHERE instance_id = $1 AND seq > $2 ORDER BY seq`, []any{id, after},
		func(row pgx.Row) (workflow.Record, error) {
			var r workflow.Record
			var kind string
			err := row.Scan(&r.Seq, &r.InstanceID, &r.Time, &kind, &r.Name, &r.Activity, &r.Reason, &r.Principal, &r.Data)
			r.Kind, r.Time = workflow.RecordKind(kind), r.Time.UTC()
			return r, err
		})
	return out, s.readErr(err)
}

// NextTimer returns the earliest PendingTimer of an Active instance; false if there is none.
func (s *Store) NextTimer(ctx context.Context) (time.Time, bool, error) {
	if s.rclosed.Load() {
		return time.Time{}, false, store.ErrClosed
	}
	var t time.Time
	err := s.rpool.QueryRow(ctx, `SELECT pending_timer FROM instances
		WHERE state = 'Active' AND pending_timer IS NOT NULL ORDER BY pending_timer LIMIT 1`).Scan(&t)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, s.readErr(err)
	}
	return t.UTC(), true, nil
}

// pendingTimersSQL counts the entries of the due-timer index, which holds exactly the Active
// instances with a pending timer (its WHERE is the index's).
const pendingTimersSQL = `SELECT COUNT(*) FROM instances WHERE state = 'Active' AND pending_timer IS NOT NULL`

// PendingTimers counts the Active instances with a PendingTimer.
func (s *Store) PendingTimers(ctx context.Context) (int64, error) {
	if s.rclosed.Load() {
		return 0, store.ErrClosed
	}
	var n int64
	if err := s.rpool.QueryRow(ctx, pendingTimersSQL).Scan(&n); err != nil {
		return 0, s.readErr(err)
	}
	return n, nil
}

// Owners lists the owners whose registration has not lapsed, by id.
func (s *Store) Owners(ctx context.Context) ([]store.Owner, error) {
	if s.rclosed.Load() {
		return nil, store.ErrClosed
	}
	out, err := collect(ctx, s, `SELECT id, node, info, advertise, registered, renewed, expiry,
		(SELECT COUNT(*) FROM instances WHERE lease_owner = owners.id AND lease_owner <> '')
		FROM owners WHERE expiry > $1 ORDER BY id`,
		[]any{msNow(s.opts.clock)}, func(row pgx.Row) (store.Owner, error) {
			var o store.Owner
			err := row.Scan(&o.ID, &o.Node, &o.Info, &o.Advertise, &o.Registered, &o.Renewed, &o.Expiry, &o.Held)
			o.Registered, o.Renewed, o.Expiry = o.Registered.UTC(), o.Renewed.UTC(), o.Expiry.UTC()
			return o, err
		})
	return out, s.readErr(err)
}

// ClusterSecret is the key the database's owners share, made by the first caller.
func (s *Store) ClusterSecret(ctx context.Context) ([]byte, error) {
	if s.rclosed.Load() {
		return nil, store.ErrClosed
	}
	read := func(ctx context.Context) ([]byte, bool, error) {
		var secret []byte
		err := s.rpool.QueryRow(ctx, `SELECT secret FROM cluster_secret WHERE id = 1`).Scan(&secret)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, false, nil
		}
		return secret, err == nil, s.readErr(err)
	}
	insert := func(ctx context.Context, secret []byte) error {
		return s.submit(ctx, &request{apply: func(t *tx) error {
			_, err := t.exec(`INSERT INTO cluster_secret (id, secret) VALUES (1, $1) ON CONFLICT (id) DO NOTHING`, secret)
			return err
		}})
	}
	return backend.ClusterSecret(ctx, read, insert)
}

// query runs query on the read pool and hands every row to row.
func (s *Store) query(ctx context.Context, query string, args []any, row func(pgx.Row) error) error {
	rows, err := s.rpool.Query(ctx, query, args...)
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

// collect runs query on the read pool and returns every row as scan reads it.
func collect[T any](ctx context.Context, s *Store, query string, args []any, scan func(pgx.Row) (T, error)) ([]T, error) {
	var out []T
	err := s.query(ctx, query, args, func(row pgx.Row) error {
		v, err := scan(row)
		if err == nil {
			out = append(out, v)
		}
		return err
	})
	return out, err
}

// limitArg is a LIMIT's argument: NULL (no limit) for n <= 0.
func limitArg(n int) *int64 {
	if n <= 0 {
		return nil
	}
	v := int64(n)
	return &v
}

// sortClaimed orders claims by due time, then id.
func sortClaimed(cs []claimedRow) []store.Claimed {
	sort.Slice(cs, func(i, j int) bool {
		if !cs[i].due.Equal(cs[j].due) {
			return cs[i].due.Before(cs[j].due)
		}
		return cs[i].c.ID.String() < cs[j].c.ID.String()
	})
	out := make([]store.Claimed, len(cs))
	for i := range cs {
		out[i] = cs[i].c
	}
	return out
}

// ---- times: timestamptz holding whole milliseconds, read back in UTC ----

// ms truncates t to what the database stores, in UTC.
func ms(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()).UTC() }

// msNow is the clock's now in UTC, truncated to what the database stores.
func msNow(clock func() time.Time) time.Time { return ms(clock()) }

// nullID binds uuid.Nil as NULL.
func nullID(id uuid.UUID) any {
	if id == uuid.Nil {
		return nil
	}
	return id
}

// nullTime is t for a nullable column: NULL when zero.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return ms(t)
}
