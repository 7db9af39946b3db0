package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/wimp-project/wimp/store/internal/backend"
)

// isBusy reports whether err is SQLITE_BUSY or SQLITE_LOCKED (any extended code): the
// "database is locked" family, which is retried and never returned to callers.
func isBusy(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return true
	}
	return false
}

// retry runs f until it returns an error that is not busy, or ctx is done.
func retry(ctx context.Context, f func() error) error {
	for n := 0; ; n++ {
		err := f()
		if !isBusy(err) {
			return err
		}
		t := time.NewTimer(backend.Backoff(n))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// execRetry executes a statement on conn, retrying while busy.
func execRetry(ctx context.Context, conn *sql.Conn, stmt string) error {
	return retry(ctx, func() error {
		_, err := conn.ExecContext(ctx, stmt)
		return err
	})
}
