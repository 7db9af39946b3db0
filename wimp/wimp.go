// Package wimp embeds a wimp workflow server in a Go program and extends it with custom
// activities written in Go.
//
// New wires what cmd/wimp-server wires — a store (SQLite file or PostgreSQL URL), the
// definitions (the embedded samples, a directory, an fs.FS), the host that runs instances and
// the HTTP handler serving the MS-WFIM control endpoint, the hosting endpoint, /healthz and
// /metrics — and registers the program's activities, which definitions then use as elements:
//
//	greet := wimp.Code("FormatGreeting", func(c wimp.CodeContext, a struct{ Name string }) (string, error) {
//	    return "Welcome, " + a.Name + "!", nil
//	})
//	send := wimp.Async("SendEmail", func(ctx context.Context, c wimp.Call, a Email) (Receipt, error) {
//	    return mailer.Send(ctx, a, c.IdempotencyKey) // outside the instance; retried per Attempts
//	})
//	srv, err := wimp.New(ctx, wimp.Config{DB: "app.db", DefinitionFS: definitions, Activities: []wimp.Activity{greet, send}})
//	...
//	err = srv.Serve(listener)
//
//	<FormatGreeting Id="greet" Name="[name]" Result="body"/>
//	<SendEmail Id="send" To="[email]" Body="[body]" Result="receipt" Attempts="5" RetryBackoff="2s"/>
//
// A code-only activity (Code) runs synchronously between work items and must be deterministic
// with respect to the instance. An asynchronous one (Async) is the mechanism the built-in
// HttpRequest uses: a durable pending call, performed by the host outside the instance lock at
// least once, with an idempotency key that survives crashes, retries after a durable back-off,
// and its outcome persisted before the workflow moves on (engine/FORMAT.md, "Custom
// activities"). examples/sendemail is a complete program.
//
// The handler has no authentication unless Config.Server.Auth sets it: listen on loopback, or
// put it behind something that authenticates (README, Security).
package wimp

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/wimp-project/wimp/engine"
	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/protocol"
	"github.com/wimp-project/wimp/server"
	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/store/postgres"
	"github.com/wimp-project/wimp/store/sqlite"
)

// Config configures an embedded server. DB is required.
type Config struct {
	// DB is a SQLite database file, or a postgres:// (postgresql://) URL.
	DB string
	// Definitions is a directory of definitions (*.xml) or one definition file; "" for none.
	// The embedded samples are always loaded.
	Definitions string
	// DefinitionFS holds more definitions: every *.xml at its root (an embed.FS, say).
	DefinitionFS fs.FS
	// Activities are the program's custom activities.
	Activities []Activity
	// HTTPAllow is the HttpRequest allow-list, as wimp-server's --http-allow
	// (HOST[:PORT],...; "": no host, workflows cannot reach the network).
	HTTPAllow string
	// Logger logs the host and the server (nil: slog.Default()).
	Logger *slog.Logger
	// UnloadAfter, Policy and MaxWorkItems are the host's (host.Config): 0 for its defaults.
	UnloadAfter  time.Duration
	Policy       host.Policy
	MaxWorkItems int
	// Server configures the HTTP handler (request limits, authentication, metrics).
	Server server.Options
}

// Server is an embedded wimp server: a started host over its store, and its HTTP handler.
type Server struct {
	host    *host.Host
	store   store.Store
	handler http.Handler
	log     *slog.Logger

	mu     sync.Mutex
	http   []*http.Server // the servers Serve started
	closed bool
}

// New opens the store, loads the definitions, starts the host (which recovers interrupted
// instances and resumes their pending calls) and builds the handler. Close releases them.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.DB == "" {
		return nil, errors.New("wimp: Config.DB is required")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	var types []*engine.ActivityType
	calls := map[string]host.CallFunc{}
	for _, a := range cfg.Activities {
		if a.err != nil {
			return nil, a.err
		}
		if a.typ == nil {
			return nil, errors.New("wimp: an Activity not made by Code or Async")
		}
		types = append(types, a.typ)
		if a.call != nil {
			calls[a.typ.Name] = a.call
		}
	}
	defs, err := engine.LoadRegistry(cfg.Definitions, types...)
	if err != nil {
		return nil, fmt.Errorf("wimp: loading definitions: %w", err)
	}
	if cfg.DefinitionFS != nil {
		if err := defs.LoadFS(cfg.DefinitionFS, "embedded"); err != nil {
			return nil, fmt.Errorf("wimp: loading definitions: %w", err)
		}
	}
	allow, err := host.ParseAllowList(cfg.HTTPAllow)
	if err != nil {
		return nil, fmt.Errorf("wimp: %w", err)
	}
	metrics := cfg.Server.Metrics
	if metrics == nil {
		metrics = server.NewMetrics()
	}
	var st store.Store
	if strings.HasPrefix(cfg.DB, "postgres://") || strings.HasPrefix(cfg.DB, "postgresql://") {
		st, err = postgres.Open(ctx, cfg.DB, postgres.WithObserver(metrics.ObserveBatch))
	} else {
		st, err = sqlite.Open(ctx, cfg.DB, sqlite.WithObserver(metrics.ObserveBatch))
	}
	if err != nil {
		return nil, fmt.Errorf("wimp: opening the store: %w", err)
	}
	h, err := host.New(host.Config{Store: st, Definitions: defs, Logger: log, UnloadAfter: cfg.UnloadAfter,
		Policy: cfg.Policy, MaxWorkItems: cfg.MaxWorkItems, Observer: metrics.HostObserver(), Bulk: protocol.Bulk{},
		Calls: calls, HTTP: host.HTTPOptions{Allow: allow}})
	if err != nil {
		st.Close()
		return nil, err
	}
	if err := h.Start(ctx); err != nil {
		st.Close()
		return nil, err
	}
	opts := cfg.Server
	opts.Metrics = metrics
	if opts.Log == nil {
		opts.Log = log
	}
	if opts.MaxBody == 0 {
		opts.MaxBody = 64 << 10
	}
	return &Server{host: h, store: st, handler: server.New(h, opts), log: log}, nil
}

// Handler serves every wimp URL (/WorkflowControl, /WorkflowHosting, /healthz, /metrics);
// mount it in a mux of the program's own to add routes.
func (s *Server) Handler() http.Handler { return s.handler }

// Host is the running host, for calls from the program itself (an in-process caller is the
// anonymous admin).
func (s *Server) Host() *host.Host { return s.host }

// Serve serves handler (Handler if nil) on ln until Close; it returns nil after Close.
func (s *Server) Serve(ln net.Listener, handler http.Handler) error {
	if handler == nil {
		handler = s.handler
	}
	hs := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		WriteTimeout: time.Minute, IdleTimeout: 2 * time.Minute, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errors.New("wimp: server closed")
	}
	s.http = append(s.http, hs)
	s.mu.Unlock()
	if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Close stops serving (requests in progress get up to 10 s), then stops the host — what it
// had not persisted is redone at the next start — and closes the store.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	servers := s.http
	s.mu.Unlock()
	var errs []error
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, hs := range servers {
		if err := hs.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, s.host.Close(), s.store.Close())
	return errors.Join(errs...)
}
