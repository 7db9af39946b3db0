// Command wimp-server is the wimp workflow host: the MS-WFIM control endpoint
// (/WorkflowControl), the hosting endpoint (/WorkflowHosting), /healthz and /metrics, over an
// SQLite store and the embedded engine.
//
//	wimp-server [--listen 127.0.0.1:8080] [--db ./wimp.db] [--definitions DIR] [--unload-after 1m]
//	            [--max-body 65536] [--unhandled-exception AbandonAndSuspend] [--log-level info]
//	            [--commit-timeout 5s] [--max-work-items 100000]
//	            [--read-header-timeout 10s] [--read-timeout 1m] [--write-timeout 1m] [--idle-timeout 2m]
//	            [--shutdown-timeout 10s] [--max-header-bytes 65536] [--max-connections 1024]
//
// Every flag falls back to an environment variable named after it: --max-body is WIMP_MAX_BODY.
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
	"strings"
	"syscall"
	"time"

	"golang.org/x/net/netutil"

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
	http                                      httpLimits
}

// httpLimits bound what one client can hold of the server.
type httpLimits struct {
	readHeaderTimeout, readTimeout, writeTimeout, idleTimeout, shutdownTimeout time.Duration
	maxHeaderBytes, maxConnections                                             int64
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "wimp-server:", err)
		os.Exit(1)
	}
}

// envName is the environment variable a flag falls back to: --max-body is WIMP_MAX_BODY.
func envName(flagName string) string {
	return "WIMP_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func parseFlags(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("wimp-server", flag.ContinueOnError)
	var envErrs []error
	def := func(name, value string) string {
		if v, ok := os.LookupEnv(envName(name)); ok {
			return v
		}
		return value
	}
	str := func(p *string, name, value, usage string) { fs.StringVar(p, name, def(name, value), usage) }
	// Numbers and durations are checked against a minimum once parsed: 1 means positive.
	type bound struct {
		name    string
		value   func() int64
		minimum int64
	}
	var bounds []bound
	dur := func(p *time.Duration, name, value string, minimum int64, usage string) {
		d, err := time.ParseDuration(def(name, value))
		if err != nil {
			envErrs = append(envErrs, fmt.Errorf("%s: %w", envName(name), err))
		}
		fs.DurationVar(p, name, d, usage)
		bounds = append(bounds, bound{name, func() int64 { return int64(*p) }, minimum})
	}
	num := func(p *int64, name, value string, usage string) {
		n, err := strconv.ParseInt(def(name, value), 10, 64)
		if err != nil {
			envErrs = append(envErrs, fmt.Errorf("%s: %w", envName(name), err))
		}
		fs.Int64Var(p, name, n, usage)
		bounds = append(bounds, bound{name, func() int64 { return *p }, 1})
	}
	var maxWork int64
	str(&c.listen, "listen", "127.0.0.1:8080", "address to listen on (port 0 picks a free one)")
	str(&c.db, "db", "./wimp.db", "SQLite database file")
	str(&c.definitions, "definitions", "", "directory of extra workflow definitions (*.xml)")
	str(&c.policy, "unhandled-exception", string(host.AbandonAndSuspend),
		"policy for unhandled workflow exceptions: AbandonAndSuspend, Terminate, Cancel or Abandon")
	str(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	dur(&c.unloadAfter, "unload-after", "1m", 0, "idle time before an instance is unloaded from memory (0: at once)")
	num(&c.maxBody, "max-body", "65536", "largest accepted SOAP request body in bytes")
	dur(&c.commitTimeout, "commit-timeout", "5s", 1,
		"how long a change may wait for the database before it fails, unapplied, with a Receiver fault")
	num(&maxWork, "max-work-items", "100000",
		"work items an instance may run without becoming idle before it is suspended (a definition's MaxWorkItems overrides it)")
	dur(&c.http.readHeaderTimeout, "read-header-timeout", "10s", 1, "time allowed to read a request's headers")
	dur(&c.http.readTimeout, "read-timeout", "1m", 1, "time allowed to read a whole request, body included")
	dur(&c.http.writeTimeout, "write-timeout", "1m", 1, "time allowed from the end of a request's headers to the end of its reply")
	dur(&c.http.idleTimeout, "idle-timeout", "2m", 1, "how long a keep-alive connection may wait for its next request")
	dur(&c.http.shutdownTimeout, "shutdown-timeout", "10s", 1, "how long a shutdown waits for requests in progress before closing their connections")
	num(&c.http.maxHeaderBytes, "max-header-bytes", "65536", "largest accepted request head (request line and headers) in bytes")
	num(&c.http.maxConnections, "max-connections", "1024", "connections served at once; more wait to be accepted")
	if err := errors.Join(envErrs...); err != nil {
		return c, err
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	for _, b := range bounds {
		switch {
		case b.value() < b.minimum && b.minimum > 0:
			return c, fmt.Errorf("--%s must be positive", b.name)
		case b.value() < b.minimum:
			return c, fmt.Errorf("--%s must not be negative", b.name)
		}
	}
	c.maxWorkItems = int(maxWork)
	return c, nil
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
		ReadHeaderTimeout: c.http.readHeaderTimeout,
		ReadTimeout:       c.http.readTimeout,  // a request body trickled byte by byte cannot hold a connection forever
		WriteTimeout:      c.http.writeTimeout, // nor a client that never reads its reply
		IdleTimeout:       c.http.idleTimeout,
		MaxHeaderBytes:    int(c.http.maxHeaderBytes),
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("listening", "url", "http://"+ln.Addr().String(), "db", c.db, "definitions", len(defs.All()))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(netutil.LimitListener(ln, int(c.http.maxConnections))) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", "deadline", c.http.shutdownTimeout)
	shutdown, cancel := context.WithTimeout(context.Background(), c.http.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		// Requests still running at the deadline lose their connection before any reply: what
		// they did not commit is not acknowledged. The shutdown itself succeeded.
		log.Warn("closing the connections still open at the shutdown deadline", "err", err)
		_ = srv.Close()
	}
	return nil
}
