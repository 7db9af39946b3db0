// Package servertest runs a complete wimp server in process for tests: a fresh SQLite
// database, the embedded samples (plus an optional definitions directory), a started host and
// the HTTP surface of package server on an httptest listener.
package servertest

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/wimp-project/wimp/engine"
	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/server"
	"github.com/wimp-project/wimp/store"
)

// Start starts the server and returns its base URL; everything stops when the test ends.
func Start(t testing.TB, definitionsDir string) string {
	t.Helper()
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "wimp.db"))
	if err != nil {
		t.Fatal(err)
	}
	defs, err := engine.LoadRegistry(definitionsDir)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h, err := host.New(host.Config{Store: st, Definitions: defs, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(server.New(h, st, 64<<10, log))
	t.Cleanup(func() {
		srv.Close()
		h.Close()
		st.Close()
	})
	return srv.URL
}
