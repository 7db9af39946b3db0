// Command wimp-server is the wimp workflow host: the MS-WFIM control endpoint
// (/WorkflowControl), the hosting endpoint (/WorkflowHosting), /healthz and /metrics, over an
// SQLite store and the embedded engine.
//
//	wimp-server [--listen 127.0.0.1:8080] [--db ./wimp.db] [--definitions DIR] [--unload-after 1m]
//	            [--max-body 65536] [--unhandled-exception AbandonAndSuspend] [--log-level info]
//	            [--commit-timeout 5s] [--max-work-items 100000]
//
// Every flag falls back to an environment variable: WIMP_LISTEN, WIMP_DB, WIMP_DEFINITIONS,
// WIMP_UNLOAD_AFTER, WIMP_MAX_BODY, WIMP_UNHANDLED_EXCEPTION, WIMP_LOG_LEVEL, WIMP_COMMIT_TIMEOUT,
// WIMP_MAX_WORK_ITEMS.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/wimp-project/wimp/engine"
	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/server"
	"github.com/wimp-project/wimp/store/sqlite"
)

type config struct {
	listen, db, definitions, policy, logLevel string
	unloadAfter, commitTimeout                time.Duration
	maxBody                                   int64
	maxWorkItems                              int
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "wimp-server:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("wimp-server", flag.ContinueOnError)
	fs.StringVar(&c.listen, "listen", env("WIMP_LISTEN", "127.0.0.1:8080"), "address to listen on (port 0 picks a free one)")
	fs.StringVar(&c.db, "db", env("WIMP_DB", "./wimp.db"), "SQLite database file")
	fs.StringVar(&c.definitions, "definitions", env("WIMP_DEFINITIONS", ""), "directory of extra workflow definitions (*.xml)")
	fs.StringVar(&c.policy, "unhandled-exception", env("WIMP_UNHANDLED_EXCEPTION", string(host.AbandonAndSuspend)),
		"policy for unhandled workflow exceptions: AbandonAndSuspend, Terminate, Cancel or Abandon")
	fs.StringVar(&c.logLevel, "log-level", env("WIMP_LOG_LEVEL", "info"), "debug, info, warn or error")
	unload, err := time.ParseDuration(env("WIMP_UNLOAD_AFTER", "1m"))
	if err != nil {
		return c, fmt.Errorf("WIMP_UNLOAD_AFTER: %w", err)
	}
	fs.DurationVar(&c.unloadAfter, "unload-after", unload, "idle time before an instance is unloaded from memory (0: at once)")
	maxBody, err := strconv.ParseInt(env("WIMP_MAX_BODY", "65536"), 10, 64)
	if err != nil {
		return c, fmt.Errorf("WIMP_MAX_BODY: %w", err)
	}
	fs.Int64Var(&c.maxBody, "max-body", maxBody, "largest accepted SOAP request body in bytes")
	commitTimeout, err := time.ParseDuration(env("WIMP_COMMIT_TIMEOUT", "5s"))
	if err != nil {
		return c, fmt.Errorf("WIMP_COMMIT_TIMEOUT: %w", err)
	}
	fs.DurationVar(&c.commitTimeout, "commit-timeout", commitTimeout,
		"how long a change may wait for the database before it fails, unapplied, with a Receiver fault")
	maxWork, err := strconv.Atoi(env("WIMP_MAX_WORK_ITEMS", "100000"))
	if err != nil {
		return c, fmt.Errorf("WIMP_MAX_WORK_ITEMS: %w", err)
	}
	fs.IntVar(&c.maxWorkItems, "max-work-items", maxWork,
		"work items an instance may run without becoming idle before it is suspended (a definition's MaxWorkItems overrides it)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if c.maxBody <= 0 {
		return c, errors.New("--max-body must be positive")
	}
	if c.unloadAfter < 0 {
		return c, errors.New("--unload-after must not be negative")
	}
	if c.commitTimeout <= 0 {
		return c, errors.New("--commit-timeout must be positive")
	}
	if c.maxWorkItems <= 0 {
		return c, errors.New("--max-work-items must be positive")
	}
	return c, nil
}

func env(key, def string) string {
	if v, ok := os.LookupEnv(key); ok {
		return v
	}
	return def
}

func run(args []string) error {
	c, err := parseFlags(args)
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	policy, err := host.ParsePolicy(c.policy)
	if err != nil {
		return err
	}
	defs, err := engine.LoadRegistry(c.definitions)
	if err != nil {
		return fmt.Errorf("loading definitions: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	ln, err := net.Listen("tcp", c.listen)
	if err != nil {
		return err
	}
	defer ln.Close()
	st, err := sqlite.Open(ctx, c.db, sqlite.WithWriteTimeout(c.commitTimeout))
	if err != nil {
		return fmt.Errorf("opening %s: %w", c.db, err)
	}
	defer st.Close()
	unload := c.unloadAfter
	if unload == 0 {
		unload = -1 // the host's "at once"
	}
	node, _ := os.Hostname()
	h, err := host.New(host.Config{Store: st, Definitions: defs, Logger: log, UnloadAfter: unload, Policy: policy,
		MaxWorkItems: c.maxWorkItems, Node: node,
		Info: fmt.Sprintf("wimp-server pid %d, listening on %s", os.Getpid(), ln.Addr())})
	if err != nil {
		return err
	}
	if err := h.Start(ctx); err != nil {
		return err
	}
	defer h.Close()

	srv := &http.Server{
		Handler:           server.New(h, c.maxBody, log),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute, // a request body trickled byte by byte cannot hold a connection forever
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("listening", "url", "http://"+ln.Addr().String(), "db", c.db, "definitions", len(defs.All()))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}
