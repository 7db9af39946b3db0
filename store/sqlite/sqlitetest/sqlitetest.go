// Package sqlitetest helps tests act on a wimp SQLite database as another process would.
package sqlitetest

import (
	"context"
	"database/sql"
	"sync"
	"testing"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Open opens the database file at path directly (not through the store), as another process
// would; it is closed when the test ends.
func Open(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// HoldWriteLock takes SQLite's write lock on the database at path (BEGIN IMMEDIATE on a
// connection of its own) and holds it until unlock is called or the test ends.
func HoldWriteLock(t testing.TB, path string) (unlock func()) {
	t.Helper()
	ctx := context.Background()
	conn, err := Open(t, path).Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		conn.Close()
		t.Fatal(err)
	}
	var once sync.Once
	unlock = func() {
		once.Do(func() {
			_, _ = conn.ExecContext(ctx, "ROLLBACK")
			conn.Close()
		})
	}
	t.Cleanup(unlock)
	return unlock
}
