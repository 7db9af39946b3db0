package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// maxCachedStmts bounds the read statement cache: the fixed queries and the filter shapes of
// QueryInstances fit many times over; past it, a query is prepared for its one use.
const maxCachedStmts = 512

// stmtCache holds the read pool's prepared statements by query text. Parsing and planning a
// query costs SQLite more than running a point lookup (half of Get's CPU, profiled with
// bench/scale, before there was a cache); database/sql prepares a cached statement once per
// pooled connection.
type stmtCache struct {
	mu     sync.Mutex
	m      map[string]*sql.Stmt
	closed bool
}

// get returns query prepared on db; release must be called once the statement's rows are read.
func (c *stmtCache) get(ctx context.Context, db *sql.DB, query string) (st *sql.Stmt, release func(), err error) {
	c.mu.Lock()
	st, ok := c.m[query]
	c.mu.Unlock()
	if ok {
		return st, func() {}, nil
	}
	if st, err = db.PrepareContext(ctx, query); err != nil {
		return nil, nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.m[query]; ok {
		_ = st.Close()
		return prev, func() {}, nil
	}
	if c.closed || len(c.m) >= maxCachedStmts {
		return st, func() { _ = st.Close() }, nil
	}
	if c.m == nil {
		c.m = map[string]*sql.Stmt{}
	}
	c.m[query] = st
	return st, func() {}, nil
}

func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	var errs []error
	for _, st := range c.m {
		errs = append(errs, st.Close())
	}
	c.m = nil
	return errors.Join(errs...)
}

// queryRow runs a one-row query on the read pool through the statement cache and hands its
// row to scan.
func (s *Store) queryRow(ctx context.Context, query string, args []any, scan func(*sql.Row) error) error {
	st, release, err := s.reads.get(ctx, s.rdb, query)
	if err != nil {
		return err
	}
	defer release()
	return scan(st.QueryRowContext(ctx, args...))
}
