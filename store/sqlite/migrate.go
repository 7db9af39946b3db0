package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/store/internal/backend"
)

// ErrSchemaTooNew is returned by Open when the database was migrated by a newer binary
// (its schema_migrations holds a version this binary does not know).
var ErrSchemaTooNew = errors.New("sqlite: database schema is newer than this binary supports")

//go:embed migrations/*.sql
var embeddedMigrations embed.FS

// migration is one versioned schema step, migrations/NNNN_name.sql, as both backends read them.
type migration = backend.Migration

// loadMigrations reads the migrations of dir in fsys, ordered by version.
func loadMigrations(fsys fs.FS, dir string) ([]migration, error) {
	return backend.LoadMigrations(fsys, dir, "store")
}

// migrationSteps are the Go parts of migrations, by migration name: what SQL cannot compute.
// Each runs after its migration's SQL, in the same transaction.
var migrationSteps = map[string]func(context.Context, *sql.Conn) error{
	"0003_query":            fillVersionKeys,
	"0009_tracking_batches": moveRecordsToBatches,
}

// fillVersionKeys sets version_key (store.VersionKey of definition_version) on the rows that
// 0003_query found, in one pass over the table.
func fillVersionKeys(ctx context.Context, conn *sql.Conn) error {
	rows, err := conn.QueryContext(ctx, "SELECT DISTINCT definition_version FROM instances")
	if err != nil {
		return err
	}
	var versions []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return err
		}
		versions = append(versions, v)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if len(versions) == 0 {
		return nil
	}
	if _, err := conn.ExecContext(ctx, "CREATE TEMP TABLE version_keys (version TEXT PRIMARY KEY, key TEXT NOT NULL)"); err != nil {
		return err
	}
	for _, v := range versions {
		if _, err := conn.ExecContext(ctx, "INSERT INTO temp.version_keys VALUES (?, ?)", v, store.VersionKey(v)); err != nil {
			return err
		}
	}
	if _, err := conn.ExecContext(ctx, `UPDATE instances SET version_key =
		(SELECT key FROM temp.version_keys WHERE version = instances.definition_version)`); err != nil {
		return err
	}
	_, err = conn.ExecContext(ctx, "DROP TABLE temp.version_keys")
	return err
}

// migrate brings the database on conn up to the last of ms. Each migration runs in its own
// BEGIN IMMEDIATE transaction together with its schema_migrations row, so concurrent openers
// (several processes) serialise and a crash leaves the schema at a whole version.
func migrate(ctx context.Context, conn *sql.Conn, ms []migration, now func() time.Time) error {
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL
	)`); err != nil {
		return fmt.Errorf("store: create schema_migrations: %w", err)
	}
	known := backend.Latest(ms)
	for {
		applied, err := migrateStep(ctx, conn, ms, known, now)
		if err != nil {
			return err
		}
		if !applied {
			return nil
		}
	}
}

// migrateStep applies the first pending migration, if any, and reports whether it did.
func migrateStep(ctx context.Context, conn *sql.Conn, ms []migration, known int, now func() time.Time) (applied bool, err error) {
	if err := execRetry(ctx, conn, "BEGIN IMMEDIATE"); err != nil {
		return false, fmt.Errorf("store: migrate: %w", err)
	}
	defer func() {
		if err != nil {
			_, _ = conn.ExecContext(context.Background(), "ROLLBACK")
		}
	}()
	var current int
	if err := conn.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&current); err != nil {
		return false, fmt.Errorf("store: read schema version: %w", err)
	}
	if current > known {
		return false, fmt.Errorf("%w: database at version %d, binary knows up to %d", ErrSchemaTooNew, current, known)
	}
	var next *migration
	for i := range ms {
		if ms[i].Version > current {
			next = &ms[i]
			break
		}
	}
	if next == nil {
		_, err := conn.ExecContext(ctx, "COMMIT")
		return false, err
	}
	if _, err := conn.ExecContext(ctx, next.SQL); err != nil {
		return false, fmt.Errorf("store: migration %s: %w", next.Name, err)
	}
	if step := migrationSteps[next.Name]; step != nil {
		if err := step(ctx, conn); err != nil {
			return false, fmt.Errorf("store: migration %s: %w", next.Name, err)
		}
	}
	if _, err := conn.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
		next.Version, next.Name, now().UnixMilli()); err != nil {
		return false, fmt.Errorf("store: record migration %s: %w", next.Name, err)
	}
	if err := execRetry(ctx, conn, "COMMIT"); err != nil {
		return false, fmt.Errorf("store: commit migration %s: %w", next.Name, err)
	}
	return true, nil
}
