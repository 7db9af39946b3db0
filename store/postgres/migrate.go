package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wimp-project/wimp/store/internal/backend"
)

// ErrSchemaTooNew is returned by Open when the database was migrated by a newer binary (its
// schema_migrations holds a version this binary does not know).
var ErrSchemaTooNew = errors.New("postgres: database schema is newer than this binary supports")

//go:embed migrations/*.sql
var embeddedMigrations embed.FS

// migration is one versioned schema step, migrations/NNNN_name.sql, as both backends read them.
type migration = backend.Migration

// loadMigrations reads the migrations of dir in fsys, ordered by version.
func loadMigrations(fsys fs.FS, dir string) ([]migration, error) {
	return backend.LoadMigrations(fsys, dir, "postgres")
}

// migrateLock is the key of the transaction-level advisory lock that serialises migrations of
// one database: nodes that start at once apply each migration once, and a node that waited
// finds the schema current.
const migrateLock = 0x77696d70_6d696772 // "wimpmigr"

// migrate brings the database up to the last of ms in one transaction under migrateLock:
// PostgreSQL's DDL is transactional, so a failure or crash leaves the schema as it was.
func migrate(ctx context.Context, conn *pgx.Conn, ms []migration, now func() time.Time) (err error) {
	known := backend.Latest(ms)
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(migrateLock)); err != nil {
		return fmt.Errorf("postgres: migrate: take the migration lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer     PRIMARY KEY,
		name       text        NOT NULL,
		applied_at timestamptz NOT NULL
	)`); err != nil {
		return fmt.Errorf("postgres: create schema_migrations: %w", err)
	}
	var current int
	if err := tx.QueryRow(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").Scan(&current); err != nil {
		return fmt.Errorf("postgres: read schema version: %w", err)
	}
	if current > known {
		return fmt.Errorf("%w: database at version %d, binary knows up to %d", ErrSchemaTooNew, current, known)
	}
	for _, m := range ms {
		if m.Version <= current {
			continue
		}
		// The simple protocol: a migration is several statements (and function bodies).
		if _, err := tx.Conn().PgConn().Exec(ctx, m.SQL).ReadAll(); err != nil {
			return fmt.Errorf("postgres: migration %s: %w", m.Name, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
			m.Version, m.Name, msNow(now)); err != nil {
			return fmt.Errorf("postgres: record migration %s: %w", m.Name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: commit migrations: %w", err)
	}
	return nil
}
