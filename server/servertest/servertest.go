// Package servertest runs a complete wimp server in process for tests: a fresh SQLite
// database (or a shared PostgreSQL one), the embedded samples (plus an optional definitions directory), a started host and
// the HTTP surface of package server on an httptest listener.
package servertest

import (
	"context"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/wimp-project/wimp/auth"
	"github.com/wimp-project/wimp/engine"
	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/protocol"
	"github.com/wimp-project/wimp/server"
	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/store/postgres"
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
	// Postgres, when set, is the PostgreSQL database to use instead of a fresh SQLite file:
	// servers given the same one are nodes of one cluster, each named Node and advertising
	// its own URL; PeerRoots verifies the others' HTTPS certificates.
	Postgres  string
	Node      string
	PeerRoots *x509.CertPool
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
	var st store.Store
	var err error
	if opts.Postgres != "" {
		st, err = postgres.Open(ctx, opts.Postgres, postgres.WithObserver(metrics.ObserveBatch))
	} else {
		st, err = sqlite.Open(ctx, path, sopts...)
	}
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	scheme := "http"
	if opts.TLS != nil {
		scheme = "https"
	}
	advertise := ""
	if opts.Postgres != "" {
		advertise = scheme + "://" + ln.Addr().String()
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
	h, err := host.New(host.Config{Store: st, Definitions: defs, Logger: log, Observer: metrics.HostObserver(), Bulk: protocol.Bulk{},
		Node: opts.Node, Advertise: advertise})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: server.New(h, server.Options{MaxBody: 64 << 10, Log: log,
		Auth: authn, Forwarding: opts.Forwarding, Metrics: metrics, PeerRoots: opts.PeerRoots})}}
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
