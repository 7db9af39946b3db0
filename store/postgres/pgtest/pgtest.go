// Package pgtest gives tests (and benchmarks) a fresh PostgreSQL database of their own.
//
// The server is $WIMP_TEST_POSTGRES (a URL such as
// postgres://root@127.0.0.1:5432/postgres?sslmode=disable), or else
// postgres://127.0.0.1:5432/postgres?sslmode=disable as the current OS user. A test whose
// server cannot be reached is skipped, unless WIMP_REQUIRE_POSTGRES=1: then it fails.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultURL is the server used when $WIMP_TEST_POSTGRES is unset.
const DefaultURL = "postgres://127.0.0.1:5432/postgres?sslmode=disable"

// ServerURL is the URL of the server tests use.
func ServerURL() string {
	if u := os.Getenv("WIMP_TEST_POSTGRES"); u != "" {
		return u
	}
	return DefaultURL
}

// CreateDatabase creates a database with a new unique name on the server at server (a URL of
// any of its databases) and returns its URL and a function that drops it (ending any session
// still connected to it).
func CreateDatabase(ctx context.Context, server string) (dbURL string, drop func() error, err error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, err
	}
	name := "wimp_test_" + hex.EncodeToString(b[:])
	conn, err := connect(ctx, server)
	if err != nil {
		return "", nil, err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, fmt.Errorf("pgtest: create database %s: %w", name, err)
	}
	dbURL, err = WithDatabase(server, name)
	if err != nil {
		return "", nil, err
	}
	drop = func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := connect(ctx, server)
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		return err
	}
	return dbURL, drop, nil
}

func connect(ctx context.Context, server string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(server)
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 5 * time.Second
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgtest: connect to %s: %w", server, err)
	}
	return conn, nil
}

// WithDatabase returns server (a postgres:// URL or a key=value connection string) naming the
// database name instead.
func WithDatabase(server, name string) (string, error) {
	if strings.HasPrefix(server, "postgres://") || strings.HasPrefix(server, "postgresql://") {
		u, err := url.Parse(server)
		if err != nil {
			return "", fmt.Errorf("pgtest: %w", err)
		}
		u.Path = "/" + name
		u.RawPath = ""
		return u.String(), nil
	}
	return server + " dbname=" + name, nil
}

// Fresh creates a database for t (see the package comment for which server, and when t is
// skipped instead), drops it when t ends and returns its URL. Cleanups registered after Fresh
// (closing the stores that use it) run before the database is dropped.
func Fresh(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dbURL, drop, err := CreateDatabase(ctx, ServerURL())
	if err != nil {
		if os.Getenv("WIMP_REQUIRE_POSTGRES") == "1" {
			t.Fatalf("PostgreSQL is required (WIMP_REQUIRE_POSTGRES=1): %v", err)
		}
		t.Skipf("no PostgreSQL server to test against (set WIMP_TEST_POSTGRES to its URL; WIMP_REQUIRE_POSTGRES=1 fails instead of skipping): %v", err)
	}
	t.Cleanup(func() {
		if err := drop(); err != nil {
			t.Errorf("pgtest: drop the test database: %v", err)
		}
	})
	return dbURL
}
