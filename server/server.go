// Package server is wimp's HTTP surface: the MS-WFIM control endpoint, the hosting endpoint, their
// metadata, /healthz and /metrics, routed over one host and store.
package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	rtmetrics "runtime/metrics"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/wimp-project/wimp/auth"
	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/hosting"
	"github.com/wimp-project/wimp/protocol"
	"github.com/wimp-project/wimp/soap"
	"github.com/wimp-project/wimp/wsdl"
)

const (
	controlPath = "/WorkflowControl"
	hostingPath = "/WorkflowHosting"
)

// Options configure the handler.
type Options struct {
	MaxBody int64        // request body limit (soap.Endpoint.MaxBodyBytes)
	Log     *slog.Logger // nil: slog.Default()
	// Auth checks credentials (README, Security). Nil: the server is open and every caller is
	// the anonymous admin, for a loopback listener without a users file or --insecure.
	Auth *auth.Authenticator
	// Forwarding decides the client's address and the WSDL's base URL (nil: the TCP peer and
	// the address the connection arrived on).
	Forwarding *Forwarding
	// ClockSkew is how far a WS-Security Timestamp may be off (0: DefaultClockSkew).
	ClockSkew time.Duration
}

// New returns the handler serving every wimp URL (README, "What runs where").
func New(h *host.Host, o Options) http.Handler {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.ClockSkew == 0 {
		o.ClockSkew = DefaultClockSkew
	}
	if o.Forwarding == nil {
		o.Forwarding = &Forwarding{}
	}
	sec := &security{auth: o.Auth, fwd: o.Forwarding, skew: o.ClockSkew}
	m := &metrics{start: time.Now()}
	control := &soap.Endpoint{Operations: protocol.Operations(countingManager{h, &m.operations}), MaxBodyBytes: o.MaxBody, Logger: o.Log,
		Authenticate: sec.authenticateSOAP}
	hostingEP := &soap.Endpoint{Operations: hosting.Operations(h), MaxBodyBytes: o.MaxBody, Logger: o.Log,
		Authenticate: sec.authenticateSOAP}
	base := o.Forwarding.BaseURL

	mux := http.NewServeMux()
	mux.Handle(controlPath, m.count(controlPath, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			control.ServeHTTP(w, r)
			return
		}
		if wsdl.IsMetadataRequest(r) {
			wsdl.ServeControlMetadata(w, r, base(r)+controlPath)
			return
		}
		help(w, r, "MS-WFIM control endpoint (IWorkflowInstanceManagement)", base(r)+controlPath)
	})))
	mux.Handle(hostingPath, m.count(hostingPath, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			hostingEP.ServeHTTP(w, r)
			return
		}
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) && r.URL.Query().Has("wsdl") {
			doc := hosting.WSDL(base(r) + hostingPath)
			w.Header().Set("Content-Type", "text/xml; charset=utf-8")
			if r.Method == http.MethodGet {
				_, _ = w.Write(doc)
			}
			return
		}
		help(w, r, "wimp hosting endpoint (IWorkflowHosting)", base(r)+hostingPath)
	})))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		// A real write (the host renews its lease), not a read: a database that answers reads
		// but cannot be written is not healthy.
		if err := h.Health(r.Context()); err != nil {
			http.Error(w, "unhealthy: the store cannot be written: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/metrics", authorized(h, "metrics", host.Reader, func(w http.ResponseWriter, r *http.Request) { m.write(w, h) }))
	return closeAfterTransferEncoding(sec.middleware(mux))
}

// closeAfterTransferEncoding closes the connection after answering a request framed with
// Transfer-Encoding. A request that also carried a Content-Length (which net/http drops, using
// the chunked framing) is ambiguous, and RFC 9112 §6.1 requires closing the connection after
// it: otherwise bytes after the chunked body would be read as another request (smuggling). Since
// the dropped header cannot be seen here, every Transfer-Encoding request closes its connection;
// SOAP clients almost always send Content-Length, so keep-alive is rarely lost.
func closeAfterTransferEncoding(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TransferEncoding) > 0 {
			w.Header().Set("Connection", "close")
		}
		next.ServeHTTP(w, r)
	})
}

// help answers a browser's GET on an endpoint URL with where its WSDL is.
func help(w http.ResponseWriter, r *http.Request, what, url string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "%s.\nPOST SOAP 1.1 (text/xml) or SOAP 1.2 (application/soap+xml) requests here.\nWSDL: %s?wsdl\n",
		what, url)
}

// metrics counts requests per endpoint and status for /metrics (Prometheus text format).
type metrics struct {
	start      time.Time
	requests   counter // by endpoint and HTTP status
	operations counter // MS-WFIM operations decided, by operation and outcome
}

// counter is a Prometheus counter family with two labels.
type counter struct {
	mu     sync.Mutex
	values map[[2]string]uint64
}

func (c *counter) inc(a, b string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.values == nil {
		c.values = map[[2]string]uint64{}
	}
	c.values[[2]string{a, b}]++
}

func (c *counter) write(b *strings.Builder, name, help, labelA, labelB string) {
	fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s counter\n", name, help, name)
	c.mu.Lock()
	defer c.mu.Unlock()
	keys := make([][2]string, 0, len(c.values))
	for k := range c.values {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i][0]+"\x00"+keys[i][1] < keys[j][0]+"\x00"+keys[j][1] })
	for _, k := range keys {
		fmt.Fprintf(b, "%s{%s=%q,%s=%q} %d\n", name, labelA, k[0], labelB, k[1], c.values[k])
	}
}

// countingManager counts every MS-WFIM operation the host decides, by its outcome: "ok" or
// the fault's subcode (or code, for faults without one).
type countingManager struct {
	protocol.Manager
	ops *counter
}

func (c countingManager) Manage(ctx context.Context, cmd host.Command) error {
	err := c.Manager.Manage(ctx, cmd)
	outcome := "ok"
	if err != nil {
		outcome = "error"
		if f, ok := protocol.Fault(err).(*soap.Fault); ok {
			outcome = f.Code.String()
			if len(f.Subcodes) > 0 {
				outcome = f.Subcodes[0].Local
			}
		}
	}
	c.ops.inc(cmd.Operation, outcome)
	return err
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (m *metrics) count(path string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		m.requests.inc(path, fmt.Sprint(sw.status))
	})
}

func (m *metrics) write(w http.ResponseWriter, h *host.Host) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	var b strings.Builder
	m.requests.write(&b, "wimp_http_requests_total", "HTTP requests by endpoint and status code.", "endpoint", "code")
	m.operations.write(&b, "wimp_operations_total", "MS-WFIM operations by operation and outcome (ok or the fault subcode).", "operation", "outcome")
	fmt.Fprintf(&b, "# HELP wimp_store_errors_total Operations and lease renewals the store could not complete, by kind (timeout, lease, conflict, closed, other).\n# TYPE wimp_store_errors_total counter\n")
	errs := h.StoreErrors()
	kinds := make([]string, 0, len(errs))
	for k := range errs {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		fmt.Fprintf(&b, "wimp_store_errors_total{kind=%q} %d\n", k, errs[k])
	}
	fmt.Fprintf(&b, "# HELP wimp_instances_loaded Workflow instances held in memory.\n# TYPE wimp_instances_loaded gauge\nwimp_instances_loaded %d\n", h.Loaded())
	fmt.Fprintf(&b, "# HELP wimp_uptime_seconds Seconds since the server started.\n# TYPE wimp_uptime_seconds gauge\nwimp_uptime_seconds %.0f\n", time.Since(m.start).Seconds())
	// Go runtime memory through runtime/metrics: no stop-the-world, no forced GC. The live heap
	// is what the last completed GC cycle marked reachable; a reader that wants a figure free of
	// garbage waits until go_gc_cycles_total has advanced past the moment it cares about.
	samples := []rtmetrics.Sample{
		{Name: "/gc/heap/live:bytes"},
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/gc/cycles/total:gc-cycles"},
		{Name: "/sched/goroutines:goroutines"},
	}
	rtmetrics.Read(samples)
	for i, g := range []struct{ name, typ, help string }{
		{"go_gc_heap_live_bytes", "gauge", "Heap bytes marked live by the last completed GC cycle."},
		{"go_memstats_heap_alloc_bytes", "gauge", "Heap bytes in allocated objects, reachable or not yet swept."},
		{"go_gc_cycles_total", "counter", "Completed GC cycles."},
		{"go_goroutines", "gauge", "Goroutines that currently exist."},
	} {
		var v uint64
		if samples[i].Value.Kind() == rtmetrics.KindUint64 {
			v = samples[i].Value.Uint64()
		}
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n%s %d\n", g.name, g.help, g.name, g.typ, g.name, v)
	}
	_, _ = w.Write([]byte(b.String()))
}
