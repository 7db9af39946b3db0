// Command wimp-server is the wimp workflow host: the MS-WFIM control endpoint
// (/WorkflowControl), the hosting endpoint (/WorkflowHosting), /healthz and /metrics, over an
// SQLite store and the embedded engine.
//
//	wimp-server [--listen 127.0.0.1:8080] [--db ./wimp.db] [--definitions DIR] [--unload-after 1m]
//	            [--max-body 65536] [--unhandled-exception AbandonAndSuspend] [--log-level info] [--log-format text]
//	            [--commit-timeout 5s] [--max-work-items 100000] [--http-allow HOST[:PORT],...]
//	            [--read-header-timeout 10s] [--read-timeout 1m] [--write-timeout 1m] [--idle-timeout 2m]
//	            [--shutdown-timeout 10s] [--max-header-bytes 65536] [--max-connections 1024]
//	wimp-server --version
//
// Every flag but --version falls back to an environment variable named after it: --max-body is
// WIMP_MAX_BODY. --version prints the build's module version (or "(devel)" and its VCS
// revision) and the Go version, and exits without starting anything.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/net/netutil"

	"github.com/wimp-project/wimp/auth"
	"github.com/wimp-project/wimp/engine"
	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/internal/buildinfo"
	"github.com/wimp-project/wimp/protocol"
	"github.com/wimp-project/wimp/server"
	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/store/postgres"
	"github.com/wimp-project/wimp/store/sqlite"
	"github.com/wimp-project/wimp/workflow"
)

type config struct {
	listen, db, definitions, policy, logLevel, logFormat string
	httpAllow                                            host.AllowList // --http-allow: where HttpRequest may go
	unloadAfter, commitTimeout                           time.Duration
	retention                                            retention
	maxBody                                              int64
	maxWorkItems, maxLoaded                              int
	tracking                                             *workflow.TrackingProfile
	http                                                 httpLimits
	security                                             securityConfig
	version                                              bool // --version: print the version and start nothing
	cluster                                              clusterConfig
}

// clusterConfig is how this node appears to others sharing its database (README, "Running
// several nodes").
type clusterConfig struct {
	nodeID    string        // --node-id; "" for host name:port
	advertise string        // --advertise; "" for the listener's address
	lease     time.Duration // --lease
}

// retention is what the host deletes by age (README, "Purge and retention").
type retention struct {
	completed      string // "keep", or a duration (0: at completion)
	completedAfter time.Duration
	tracking       time.Duration // 0: keep
}

// securityConfig is who may call (README, Security).
type securityConfig struct {
	tlsCert, tlsKey, clientCA, users string
	peerCA                           string
	trustedProxies, publicURL        string
	clockSkew                        time.Duration
	insecure                         bool
}

// httpLimits bound what one client can hold of the server.
type httpLimits struct {
	readHeaderTimeout, readTimeout, writeTimeout, idleTimeout, shutdownTimeout time.Duration
	maxHeaderBytes, maxConnections                                             int64
}

func main() {
	err := run(os.Args[1:])
	switch {
	case errors.Is(err, flag.ErrHelp): // -h, --help: the usage went to stdout
	case err != nil:
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
	var maxWork, maxLoaded int64
	str(&c.listen, "listen", "127.0.0.1:8080", "address to listen on (port 0 picks a free one)")
	str(&c.db, "db", "./wimp.db", "SQLite database file, or a postgres:// (postgresql://) URL of a PostgreSQL database")
	str(&c.definitions, "definitions", "", "directory of extra workflow definitions (*.xml, any case), or one definition file")
	str(&c.policy, "unhandled-exception", string(host.AbandonAndSuspend),
		"policy for unhandled workflow exceptions: AbandonAndSuspend, Terminate, Cancel or Abandon")
	str(&c.logLevel, "log-level", "info", "debug, info (an access line per request), warn or error")
	str(&c.logFormat, "log-format", "text", "text (logfmt) or json")
	str(&c.cluster.nodeID, "node-id", "", "this node's name among the nodes sharing a PostgreSQL database (default host name:port)")
	str(&c.cluster.advertise, "advertise", "",
		"the base URL other nodes reach this one at, e.g. http://10.0.0.5:8080; they forward it operations on the instances it holds (default the listener's address)")
	dur(&c.cluster.lease, "lease", "10s", 1,
		"how long this node's instance leases last without a renewal (renewed every third of it); a dead node's instances are taken over after it")
	dur(&c.unloadAfter, "unload-after", "1m", 0, "idle time before an instance is unloaded from memory (0: at once)")
	num(&c.maxBody, "max-body", "65536", "largest accepted SOAP request body in bytes")
	dur(&c.commitTimeout, "commit-timeout", "5s", 1,
		"how long a change may wait for the database before it fails, unapplied, with a Receiver fault")
	num(&maxLoaded, "max-loaded", strconv.Itoa(host.DefaultMaxLoaded),
		"instances kept in memory at most: past it the least recently idle are unloaded before --unload-after (bounds memory whatever the creation rate)")
	num(&maxWork, "max-work-items", "100000",
		"work items an instance may run without becoming idle before it is suspended (a definition's MaxWorkItems overrides it)")
	var trackingProfile string
	str(&trackingProfile, "tracking", "All",
		"tracking records written for definitions without a Tracking attribute: All, or Instance with Activity and/or Bookmark (e.g. \"Instance,Bookmark\"); instance records are always written")
	var httpAllow string
	str(&httpAllow, "http-allow", "",
		"HOST[:PORT],... the HttpRequest activity may reach (a port-less entry allows every port; default none: workflows cannot reach the network)")
	str(&c.retention.completed, "completed-retention", "keep",
		"how long completed instances are kept before they are purged in the background: keep (never purged), or a duration (0: at completion)")
	dur(&c.retention.tracking, "tracking-retention", "0s", 0,
		"tracking records of live instances older than this are deleted in the background (0: kept)")
	dur(&c.http.readHeaderTimeout, "read-header-timeout", "10s", 1, "time allowed to read a request's headers")
	dur(&c.http.readTimeout, "read-timeout", "1m", 1, "time allowed to read a whole request, body included")
	dur(&c.http.writeTimeout, "write-timeout", "1m", 1, "time allowed from the end of a request's headers to the end of its reply")
	dur(&c.http.idleTimeout, "idle-timeout", "2m", 1, "how long a keep-alive connection may wait for its next request")
	dur(&c.http.shutdownTimeout, "shutdown-timeout", "10s", 1, "how long a shutdown waits for requests in progress before closing their connections")
	num(&c.http.maxHeaderBytes, "max-header-bytes", "65536", "largest accepted request head (request line and headers) in bytes")
	num(&c.http.maxConnections, "max-connections", "1024", "connections served at once; more wait to be accepted")
	str(&c.security.tlsCert, "tls-cert", "", "PEM certificate (chain) to serve HTTPS with (reloaded on SIGHUP)")
	str(&c.security.tlsKey, "tls-key", "", "PEM private key of --tls-cert")
	str(&c.security.clientCA, "client-ca", "", "PEM CA certificates: client certificates are requested and verified; the subject CN is the user")
	str(&c.security.peerCA, "peer-ca", "", "PEM CA certificates other nodes' HTTPS certificates are verified against when this node forwards to them (default: the system's)")
	str(&c.security.users, "users", "", "users file, one name:BCRYPT-HASH:roles per line (reloaded on SIGHUP)")
	str(&c.security.trustedProxies, "trusted-proxies", "", "CIDR[,CIDR]: only peers in them may set X-Forwarded-For/-Proto/-Host")
	str(&c.security.publicURL, "public-url", "", "the URL clients reach this server at, for the WSDL's addresses (default: the address a connection arrived on)")
	dur(&c.security.clockSkew, "clock-skew", "5m", 0, "how far a WS-Security Timestamp may be off this server's clock")
	insecure, err := strconv.ParseBool(def("insecure", "false"))
	if err != nil {
		envErrs = append(envErrs, fmt.Errorf("%s: %w", envName("insecure"), err))
	}
	fs.BoolVar(&c.security.insecure, "insecure", insecure, "allow a non-loopback listener without TLS and a users file (logged as a warning at every start)")
	// No environment variable: a WIMP_VERSION left set would stop every start.
	fs.BoolVar(&c.version, "version", false, "print the version and exit")
	if err := errors.Join(envErrs...); err != nil {
		return c, err
	}
	fs.SetOutput(io.Discard) // errors are printed once, by main; the usage only when asked for
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(os.Stdout)
			fmt.Println("usage: wimp-server [FLAGS]   (every flag can also be set as WIMP_<NAME>, e.g. --max-body as WIMP_MAX_BODY)")
			fs.PrintDefaults()
		}
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
	c.maxWorkItems, c.maxLoaded = int(maxWork), int(maxLoaded)
	prof, err := workflow.ParseTrackingProfile(trackingProfile)
	if err != nil {
		return c, fmt.Errorf("--tracking: %v", err)
	}
	c.tracking = &prof
	if c.httpAllow, err = host.ParseAllowList(httpAllow); err != nil {
		return c, err
	}
	if c.cluster.advertise != "" {
		u, err := url.Parse(c.cluster.advertise)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return c, fmt.Errorf("--advertise must be an http:// or https:// base URL (e.g. http://10.0.0.5:8080), not %q", c.cluster.advertise)
		}
		c.cluster.advertise = strings.TrimRight(c.cluster.advertise, "/")
	}
	if c.retention.completed != "keep" {
		d, err := time.ParseDuration(c.retention.completed)
		if err != nil || d < 0 {
			return c, fmt.Errorf("--completed-retention must be keep or a duration of 0 or more (e.g. 720h), not %q", c.retention.completed)
		}
		c.retention.completedAfter = d
	}
	return c, nil
}

func run(args []string) error {
	c, err := parseFlags(args)
	if err != nil {
		return err
	}
	if c.version {
		fmt.Println(buildinfo.VersionLine("wimp-server"))
		return nil
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	var handler slog.Handler
	switch opts := (&slog.HandlerOptions{Level: level}); c.logFormat {
	case "text":
		handler = slog.NewTextHandler(os.Stderr, opts)
	case "json":
		handler = slog.NewJSONHandler(os.Stderr, opts)
	default:
		return fmt.Errorf("--log-format must be text or json, not %q", c.logFormat)
	}
	log := slog.New(handler)
	policy, err := host.ParsePolicy(c.policy)
	if err != nil {
		return err
	}
	defs, err := engine.LoadRegistry(c.definitions)
	if err != nil {
		return fmt.Errorf("loading definitions: %w", err)
	}
	sec, err := setUpSecurity(c.listen, c.security, log)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	ln, err := net.Listen("tcp", c.listen)
	if err != nil {
		return err
	}
	defer ln.Close()
	metrics := server.NewMetrics()
	st, err := openStore(ctx, c.db, c.commitTimeout, metrics.ObserveBatch)
	if err != nil {
		return fmt.Errorf("opening %s: %w", redactedDB(c.db), err)
	}
	defer st.Close()
	unload := c.unloadAfter
	if unload == 0 {
		unload = -1 // the host's "at once"
	}
	node, advertise := nodeIdentity(c.cluster, ln.Addr(), sec.tls != nil)
	h, err := host.New(host.Config{Store: st, Definitions: defs, Logger: log, UnloadAfter: unload, Policy: policy,
		MaxWorkItems: c.maxWorkItems, MaxLoaded: c.maxLoaded, Tracking: c.tracking, Observer: metrics.HostObserver(), Bulk: protocol.Bulk{},
		Node: node, Advertise: advertise, Lease: c.cluster.lease,
		PurgeCompleted: c.retention.completed != "keep", CompletedRetention: c.retention.completedAfter,
		TrackingRetention: c.retention.tracking,
		HTTP:              host.HTTPOptions{Allow: c.httpAllow},
		Info:              fmt.Sprintf("wimp-server pid %d, listening on %s", os.Getpid(), ln.Addr())})
	if err != nil {
		return err
	}
	if err := h.Start(ctx); err != nil {
		return err
	}
	defer h.Close()

	srv := &http.Server{
		Handler: server.New(h, server.Options{MaxBody: c.maxBody, Log: log, Auth: sec.auth, Forwarding: sec.forwarding,
			ClockSkew: c.security.clockSkew, Metrics: metrics, PeerRoots: sec.peerRoots}),
		ReadHeaderTimeout: c.http.readHeaderTimeout,
		ReadTimeout:       c.http.readTimeout,  // a request body trickled byte by byte cannot hold a connection forever
		WriteTimeout:      c.http.writeTimeout, // nor a client that never reads its reply
		IdleTimeout:       c.http.idleTimeout,
		MaxHeaderBytes:    int(c.http.maxHeaderBytes),
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	scheme, served := "http", netutil.LimitListener(ln, int(c.http.maxConnections))
	if sec.tls != nil {
		// TLS outside the limit, so that net/http sees a *tls.Conn (and fills Request.TLS).
		scheme, served = "https", tls.NewListener(served, sec.tls.Config())
	}
	log.Info("listening", "url", scheme+"://"+ln.Addr().String(), "db", redactedDB(c.db), "definitions", len(defs.All()),
		"authentication", sec.auth != nil, "node", node, "advertise", advertise)
	go sec.reloadOnSIGHUP(ctx, log)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(served) }()
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

// security is the running server's authentication: what setUpSecurity made of the flags.
type security struct {
	tls        *auth.TLS           // nil: plain HTTP
	auth       *auth.Authenticator // nil: open, every caller the anonymous admin
	forwarding *server.Forwarding
	usersFile  string
	peerRoots  *x509.CertPool // nil: the system's
}

// isLoopback reports whether a --listen address accepts connections only from this machine.
func isLoopback(listen string) bool {
	h, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// setUpSecurity checks the security flags and loads their files. A listener other than
// loopback needs TLS and a users file, or an explicit --insecure.
func setUpSecurity(listen string, c securityConfig, log *slog.Logger) (*security, error) {
	s := &security{usersFile: c.users}
	if (c.tlsCert == "") != (c.tlsKey == "") {
		return nil, errors.New("--tls-cert and --tls-key go together: give both or neither")
	}
	if c.clientCA != "" && c.tlsCert == "" {
		return nil, errors.New("--client-ca needs TLS: add --tls-cert and --tls-key")
	}
	if !isLoopback(listen) && (c.tlsCert == "" || c.users == "") {
		if !c.insecure {
			return nil, fmt.Errorf("refusing to listen on %s, which is not a loopback address, without TLS and a users file: "+
				"add --tls-cert FILE --tls-key FILE --users FILE (README, Security), or --insecure to accept callers from the network "+
				"without them", listen)
		}
		log.Warn("--insecure: listening beyond loopback without TLS and a users file; callers are not authenticated or their credentials travel in clear",
			"listen", listen, "tls", c.tlsCert != "", "users", c.users != "")
	}
	if c.tlsCert != "" {
		t, err := auth.LoadTLS(auth.TLSFiles{Cert: c.tlsCert, Key: c.tlsKey, ClientCA: c.clientCA})
		if err != nil {
			return nil, err
		}
		s.tls = t
	}
	if c.users != "" || c.clientCA != "" {
		var users *auth.Users
		if c.users != "" {
			u, err := auth.LoadUsers(c.users)
			if err != nil {
				return nil, fmt.Errorf("--users: %w", err)
			}
			users = u
		}
		s.auth = auth.NewAuthenticator(auth.NewVerifier(users), log)
	}
	if c.peerCA != "" {
		pem, err := os.ReadFile(c.peerCA)
		if err != nil {
			return nil, fmt.Errorf("--peer-ca: %w", err)
		}
		s.peerRoots = x509.NewCertPool()
		if !s.peerRoots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--peer-ca: %s holds no PEM certificate", c.peerCA)
		}
	}
	trusted, err := server.ParseTrustedProxies(c.trustedProxies)
	if err != nil {
		return nil, fmt.Errorf("--trusted-proxies: %w", err)
	}
	public, err := server.ParsePublicURL(c.publicURL)
	if err != nil {
		return nil, fmt.Errorf("--public-url: %w", err)
	}
	s.forwarding = &server.Forwarding{PublicURL: public, Trusted: trusted}
	return s, nil
}

// reloadOnSIGHUP reads the users file and the TLS files again at every SIGHUP until ctx ends;
// a file that does not load leaves the one in use in place, and the log says why.
func (s *security) reloadOnSIGHUP(ctx context.Context, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		if s.auth != nil && s.usersFile != "" {
			if u, err := auth.LoadUsers(s.usersFile); err != nil {
				log.Error("SIGHUP: the users file did not load; the one loaded before stays in use", "err", err)
			} else {
				s.auth.Verifier().SetUsers(u)
				log.Info("SIGHUP: users reloaded", "file", s.usersFile, "users", u.Len())
			}
		}
		if s.tls != nil {
			if err := s.tls.Reload(); err != nil {
				log.Error("SIGHUP: the TLS files did not load; the certificate loaded before stays in use", "err", err)
			} else {
				log.Info("SIGHUP: TLS certificate reloaded")
			}
		}
	}
}

// openStore opens the store --db names: a PostgreSQL database for a postgres:// or
// postgresql:// URL, else a SQLite file.
func openStore(ctx context.Context, db string, commitTimeout time.Duration, observe func(store.BatchInfo)) (store.Store, error) {
	if isPostgresURL(db) {
		return postgres.Open(ctx, db, postgres.WithWriteTimeout(commitTimeout), postgres.WithObserver(observe))
	}
	return sqlite.Open(ctx, db, sqlite.WithWriteTimeout(commitTimeout), sqlite.WithObserver(observe))
}

func isPostgresURL(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

// redactedDB is --db as logs and errors show it: a URL's password replaced by xxxxx.
func redactedDB(db string) string {
	if !isPostgresURL(db) {
		return db
	}
	u, err := url.Parse(db)
	if err != nil {
		return "(a postgres URL that does not parse)"
	}
	return u.Redacted()
}

// nodeIdentity is this node's name and advertised URL: the flags', else the host name with the
// listener's port, and the listener's address (the host name's when it listens on every
// address, which no other node could dial).
func nodeIdentity(c clusterConfig, addr net.Addr, tls bool) (node, advertise string) {
	host, _ := os.Hostname()
	ip, port := "", ""
	if ta, ok := addr.(*net.TCPAddr); ok {
		port = strconv.Itoa(ta.Port)
		if !ta.IP.IsUnspecified() {
			ip = ta.IP.String()
		}
	}
	node = c.nodeID
	if node == "" {
		node = net.JoinHostPort(host, port)
	}
	advertise = c.advertise
	if advertise == "" {
		scheme := "http"
		if tls {
			scheme = "https"
		}
		if ip == "" {
			ip = host
		}
		advertise = scheme + "://" + net.JoinHostPort(ip, port)
	}
	return node, advertise
}
