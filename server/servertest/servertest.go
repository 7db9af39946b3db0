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
	"time"

	"github.com/wimp-project/wimp/engine"
	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/server"
	"github.com/wimp-project/wimp/store/sqlite"
)

// Options configure Run; the zero value is the server's defaults.
type Options struct {
	Definitions  string        // a directory of extra definitions
	WriteTimeout time.Duration // the store's write timeout (0: its default)
}

// Server is a running test server.
type Server struct {
	URL string // base URL, e.g. http://127.0.0.1:PORT
	DB  string // the SQLite file
}

// Start starts the server and returns its base URL; everything stops when the test ends.
func Start(t testing.TB, definitionsDir string) string {
	t.Helper()
	return Run(t, Options{Definitions: definitionsDir}).URL
}

// Run starts a server with opts; everything stops when the test ends.
func Run(t testing.TB, opts Options) *Server {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "wimp.db")
	var sopts []sqlite.Option
	if opts.WriteTimeout > 0 {
		sopts = append(sopts, sqlite.WithWriteTimeout(opts.WriteTimeout))
	}
	st, err := sqlite.Open(ctx, path, sopts...)
	if err != nil {
		t.Fatal(err)
	}
	defs, err := engine.LoadRegistry(opts.Definitions)
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
	srv := httptest.NewServer(server.New(h, 64<<10, log))
	t.Cleanup(func() {
		srv.Close()
		h.Close()
		st.Close()
	})
	return &Server{URL: srv.URL, DB: path}
}
