package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

func TestMigrationsInOrder(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "m.db")
	fsys := fstest.MapFS{
		"m/0002_b.sql": {Data: []byte("INSERT INTO log VALUES ('b');")},
		"m/0001_a.sql": {Data: slices.Concat(mustRead(t, "migrations/0001_init.sql"), mustRead(t, "migrations/0002_leases.sql"),
			[]byte("\nCREATE TABLE log (x TEXT); INSERT INTO log VALUES ('a');"))},
		"m/README": {Data: []byte("not a migration")},
	}
	ms, err := loadMigrations(fsys, "m")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].version != 1 || ms[1].name != "0002_b" {
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
