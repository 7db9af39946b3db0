package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/store"
)

func TestMigrationsInOrder(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "m.db")
	fsys := fstest.MapFS{
		"m/0002_b.sql": {Data: []byte("INSERT INTO log VALUES ('b');")},
		"m/0001_a.sql": {Data: slices.Concat(mustRead(t, "migrations/0001_init.sql"), mustRead(t, "migrations/0002_leases.sql"),
			mustRead(t, "migrations/0003_query.sql"), mustRead(t, "migrations/0005_correlation.sql"), mustRead(t, "migrations/0006_parent.sql"),
			mustRead(t, "migrations/0007_nodes.sql"), mustRead(t, "migrations/0009_tracking_batches.sql"),
			mustRead(t, "migrations/0010_image_encoding.sql"),
			[]byte("\nCREATE TABLE log (x TEXT); INSERT INTO log VALUES ('a');"))},
		"m/README": {Data: []byte("not a migration")},
	}
	ms, err := loadMigrations(fsys, "m")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].Version != 1 || ms[1].Name != "0002_b" {
		t.Fatalf("loaded %+v", ms)
	}
	open := func(ms []migration) (*Store, error) { return open(ctx, path, ms) }
	s, err := open(ms)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	// A later binary adds a third; a failing fourth rolls back alone.
	fsys["m/0003_c.sql"] = &fstest.MapFile{Data: []byte("INSERT INTO log VALUES ('c');")}
	fsys["m/0004_bad.sql"] = &fstest.MapFile{Data: []byte("INSERT INTO log VALUES ('d'); SELECT nonsense FROM nowhere;")}
	ms, _ = loadMigrations(fsys, "m")
	if _, err := open(ms); err == nil || !strings.Contains(err.Error(), "0004_bad") {
		t.Fatalf("bad migration: %v", err)
	}
	ms = ms[:3]
	s, err = open(ms)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var log []string
	rows, err := s.rdb.Query("SELECT x FROM log")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var x string
		rows.Scan(&x)
		log = append(log, x)
	}
	rows.Close()
	if strings.Join(log, ",") != "a,b,c" {
		t.Fatalf("migrations ran as %v, want a,b,c once each in order", log)
	}
	// The older binary (knows only 0001-0002) refuses the database.
	s.Close()
	if _, err := open(ms[:2]); !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("older binary: %v", err)
	}
}

func TestMigrationNames(t *testing.T) {
	for _, name := range []string{"m/init.sql", "m/0_x.sql", "m/x_y.sql"} {
		if _, err := loadMigrations(fstest.MapFS{name: {Data: []byte("")}}, "m"); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	if _, err := loadMigrations(fstest.MapFS{"m/1_a.sql": {}, "m/0001_b.sql": {}}, "m"); err == nil {
		t.Error("duplicate version accepted")
	}
}

func mustRead(t *testing.T, name string) []byte {
	b, err := embeddedMigrations.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// migratedUpTo creates a database at path with the embedded migrations before the one named,
// as a binary of that time left it, and returns a connection to it.
func migratedUpTo(t *testing.T, path, name string) (*sql.DB, *sql.Conn) {
	t.Helper()
	ms, err := loadMigrations(embeddedMigrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(ms, func(m migration) bool { return m.Name == name })
	if i < 0 {
		t.Fatalf("no migration %s", name)
	}
	db, err := sql.Open("sqlite", dsn(path, time.Second, false))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(context.Background(), conn, ms[:i], time.Now); err != nil {
		t.Fatal(err)
	}
	return db, conn
}

// reopen closes what migratedUpTo returned and opens the store at path, migrating it on.
func reopen(t *testing.T, db *sql.DB, conn *sql.Conn, path string) *Store {
	t.Helper()
	conn.Close()
	db.Close()
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestQueryMigrationOfExistingRows: 0003_query on a database that already holds instances fills
// the bookmark table, the counts and the version keys, so the new queries see the old rows.
func TestQueryMigrationOfExistingRows(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	db, conn := migratedUpTo(t, path, "0003_query")
	for i, r := range []struct{ state, version, exc, bookmarks string }{
		{"Active", "1.0.0.0", "", `["Review","Escalate"]`},
		{"Active", "01.0.0.0", "", `["Review"]`},
		{"Suspended", "2.0", "WorkItemLimitExceeded", `[]`},
		{"Completed", "nonsense", "", `[]`},
	} {
		if _, err := conn.ExecContext(ctx, `INSERT INTO instances (id, definition_name, definition_version, state,
			suspension_exception, blocking_bookmarks, version, created, updated) VALUES (?, 'Expense', ?, ?, ?, ?, 1, ?, ?)`,
			uuid.NewString(), r.version, r.state, r.exc, r.bookmarks, 1000+i, 1000+i); err != nil {
			t.Fatal(err)
		}
	}
	s := reopen(t, db, conn, path)
	count := func(f store.Filter, by store.GroupBy) string {
		t.Helper()
		cs, err := s.CountInstances(ctx, f, by)
		if err != nil {
			t.Fatal(err)
		}
		var parts []string
		for _, c := range cs {
			parts = append(parts, fmt.Sprintf("%s%s%s=%d", c.State, c.Definition.Version, c.Exception, c.N))
		}
		return strings.Join(parts, " ")
	}
	for _, c := range []struct {
		f    store.Filter
		by   store.GroupBy
		want string
	}{
		{store.Filter{}, store.GroupByState, "Active=2 Suspended=1 Completed=1"},
		{store.Filter{Version: "1.0.0.0"}, store.GroupByDefinition, "01.0.0.0=1 1.0.0.0=1"},
		{store.Filter{VersionMin: "1.5"}, store.GroupNone, "=1"},
		{store.Filter{Exception: "WorkItemLimitExceeded"}, store.GroupByState, "Suspended=1"},
		{store.Filter{Bookmark: "Review"}, store.GroupByState, "Active=2"},
		{store.Filter{Bookmark: "Escalate", Version: "1.0"}, store.GroupNone, "=0"},
		{store.Filter{Bookmark: "Escalate", Version: "1.0.0.0"}, store.GroupNone, "=1"},
	} {
		if got := count(c.f, c.by); got != c.want {
			t.Errorf("after migrating, CountInstances(%+v, %q) = %q, want %q", c.f, c.by, got, c.want)
		}
	}
}
