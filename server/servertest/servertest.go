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

	"github.com/wimp-project/wimp/auth"
	"github.com/wimp-project/wimp/engine"
	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/protocol"
	"github.com/wimp-project/wimp/server"
	"github.com/wimp-project/wimp/store/sqlite"
)

// Options configure Run; the zero value is the server's defaults.
type Options struct {
	Definitions  string        // a directory of extra definitions
	WriteTimeout time.Duration // the store's write timeout (0: its default)

	// Users, when set, is a users file's path: callers must authenticate (server.Options.Auth).
	Users string
	// TLS, when set, serves HTTPS with it (its client CAs, if any, make callers authenticate
	// too).
	TLS *auth.TLS
	// Forwarding as in server.Options.
	Forwarding *server.Forwarding
	// Log receives the server's log (nil: discarded).
	Log io.Writer
}

// Server is a running test server.
type Server struct {
	URL  string              // base URL, e.g. http://127.0.0.1:PORT or https://…
	DB   string              // the SQLite file
	Auth *auth.Authenticator // nil when the server is open
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
	metrics := server.NewMetrics()
	sopts := []sqlite.Option{sqlite.WithObserver(metrics.ObserveBatch)}
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
	out := opts.Log
	if out == nil {
		out = io.Discard
	}
	log := slog.New(slog.NewTextHandler(out, nil))
	var authn *auth.Authenticator
	if opts.Users != "" || (opts.TLS != nil && opts.TLS.VerifiesClients()) {
		var users *auth.Users
		if opts.Users != "" {
			if users, err = auth.LoadUsers(opts.Users); err != nil {
				t.Fatal(err)
			}
		}
		authn = auth.NewAuthenticator(auth.NewVerifier(users), log)
	}
	h, err := host.New(host.Config{Store: st, Definitions: defs, Logger: log, Observer: metrics.HostObserver(), Bulk: protocol.Bulk{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(server.New(h, server.Options{MaxBody: 64 << 10, Log: log, Auth: authn, Forwarding: opts.Forwarding,
		Metrics: metrics}))
	if opts.TLS != nil {
		srv.TLS = opts.TLS.Config()
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(func() {
		srv.Close()
		h.Close()
		st.Close()
	})
	return &Server{URL: srv.URL, DB: path, Auth: authn}
}
