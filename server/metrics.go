package server

import (
	"context"
	"errors"
	"net/http"
	rtmetrics "runtime/metrics"
	"sort"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wimp-project/wimp/auth"
	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/protocol"
	"github.com/wimp-project/wimp/soap"
)

// metrics is what /metrics exposes (README, "What runs where"), through a registry of the
// server's own (not the process-wide default, so that tests can run many servers).
type metrics struct {
	reg        *prometheus.Registry
	requests   *prometheus.CounterVec   // by endpoint and HTTP status
	latency    *prometheus.HistogramVec // by endpoint and operation
	operations *prometheus.CounterVec   // MS-WFIM operations by operation, outcome and fault code
}

func newMetrics(h *host.Host, a *auth.Authenticator) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wimp_http_requests_total",
			Help: "HTTP requests by endpoint and status code."}, []string{"endpoint", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "wimp_http_request_duration_seconds",
			Help:    "Time from a request's arrival to the end of its reply, by endpoint and SOAP operation (\"none\" before one is known).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}},
			[]string{"endpoint", "operation"}),
		operations: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wimp_operations_total",
			Help: "MS-WFIM operations by operation and outcome (ok, or the fault's subcode), and the fault's code: ok, Sender (the request's fault) or Receiver (the server's)."},
			[]string{"operation", "outcome", "code"}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.operations,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "wimp_instances_loaded", Help: "Workflow instances held in memory."},
			func() float64 { return float64(h.Loaded()) }),
		snapshotCounter{desc: prometheus.NewDesc("wimp_store_errors_total",
			"Operations and lease renewals the store could not complete, by kind (timeout, lease, conflict, closed, other).", []string{"kind"}, nil),
			read: h.StoreErrors},
		runtimeGauge{prometheus.NewDesc("go_gc_heap_live_bytes", "Heap bytes marked live by the last completed GC cycle.", nil, nil),
			"/gc/heap/live:bytes", prometheus.GaugeValue},
		runtimeGauge{prometheus.NewDesc("go_gc_cycles_total", "Completed GC cycles.", nil, nil),
			"/gc/cycles/total:gc-cycles", prometheus.CounterValue},
	)
	if a != nil {
		m.reg.MustRegister(snapshotCounter{desc: prometheus.NewDesc("wimp_auth_failures_total",
			"Failed authentications by mechanism (basic, wsse) and result (bad-credentials, limited: refused while the address was limited).",
			[]string{"mechanism", "result"}, nil), read: a.Failures})
	}
	return m
}

// snapshotCounter exposes a map of counts kept elsewhere (the host's store errors, the
// authenticator's failures) as one counter family; a key of several labels is "a/b".
type snapshotCounter struct {
	desc *prometheus.Desc
	read func() map[string]uint64
}

func (c snapshotCounter) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c snapshotCounter) Collect(ch chan<- prometheus.Metric) {
	counts := c.read()
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(counts[k]), splitLabels(k)...)
	}
}

func splitLabels(k string) []string {
	for i := 0; i < len(k); i++ {
		if k[i] == '/' {
			return []string{k[:i], k[i+1:]}
		}
	}
	return []string{k}
}

// runtimeGauge reads one runtime/metrics sample: no stop-the-world, no forced GC. The live
// heap is what the last completed GC cycle marked reachable; a reader that wants a figure free
// of garbage waits until go_gc_cycles_total has advanced past the moment it cares about.
type runtimeGauge struct {
	desc   *prometheus.Desc
	sample string
	kind   prometheus.ValueType
}

func (g runtimeGauge) Describe(ch chan<- *prometheus.Desc) { ch <- g.desc }

func (g runtimeGauge) Collect(ch chan<- prometheus.Metric) {
	s := []rtmetrics.Sample{{Name: g.sample}}
	rtmetrics.Read(s)
	var v float64
	if s[0].Value.Kind() == rtmetrics.KindUint64 {
		v = float64(s[0].Value.Uint64())
	}
	ch <- prometheus.MustNewConstMetric(g.desc, g.kind, v)
}

// handler serves the registry in Prometheus's text format (or what the scraper negotiates).
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// opKey carries, in a request's context, the SOAP operation it turned out to call.
type opKey struct{}

// withOperationHolder returns ctx with a place for the request's operation name (noteOperation),
// unless it already has one.
func withOperationHolder(ctx context.Context, op *string) context.Context {
	if _, ok := ctx.Value(opKey{}).(*string); ok {
		return ctx
	}
	return context.WithValue(ctx, opKey{}, op)
}

// operationOf is the operation noted in ctx ("" before one is known).
func operationOf(ctx context.Context) string {
	if p, ok := ctx.Value(opKey{}).(*string); ok {
		return *p
	}
	return ""
}

// count measures every request to endpoint: its status and, by operation, its duration.
func (m *metrics) count(endpoint string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ctx := withOperationHolder(r.Context(), new(string))
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(ctx))
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		name := operationOf(ctx)
		if name == "" {
			name = "none"
		}
		m.requests.WithLabelValues(endpoint, strconv.Itoa(sw.status)).Inc()
		m.latency.WithLabelValues(endpoint, name).Observe(time.Since(start).Seconds())
	})
}

// noteOperation names the request's operation for count; both contracts call Authorize with it
// before anything else.
func noteOperation(ctx context.Context, op string) {
	if p, ok := ctx.Value(opKey{}).(*string); ok {
		*p = op
	}
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

// countingManager is the host as the MS-WFIM contract sees it, counting every operation by its
// outcome: "ok", or the fault's subcode (its code, for faults without one), with the code
// telling the request's faults (Sender) from the server's (Receiver).
type countingManager struct {
	*host.Host
	ops *prometheus.CounterVec
}

func (c countingManager) Authorize(ctx context.Context, op string, need host.Role) error {
	noteOperation(ctx, op)
	err := c.Host.Authorize(ctx, op, need)
	if err != nil {
		c.count(op, err)
	}
	return err
}

func (c countingManager) Manage(ctx context.Context, cmd host.Command) error {
	err := c.Host.Manage(ctx, cmd)
	c.count(cmd.Operation, err)
	return err
}

func (c countingManager) count(op string, err error) {
	outcome, code := "ok", "ok"
	if err != nil {
		outcome, code = "error", soap.Receiver.String()
		var f *soap.Fault
		if errors.As(protocol.Fault(err), &f) {
			outcome, code = f.Code.String(), f.Code.String()
			if len(f.Subcodes) > 0 {
				outcome = f.Subcodes[len(f.Subcodes)-1].Local
			}
		}
	}
	c.ops.WithLabelValues(op, outcome, code).Inc()
}

// namingHost is the host as the hosting contract sees it, naming each request's operation for
// the latency histogram.
type namingHost struct{ *host.Host }

func (n namingHost) Authorize(ctx context.Context, op string, need host.Role) error {
	noteOperation(ctx, op)
	return n.Host.Authorize(ctx, op, need)
}
