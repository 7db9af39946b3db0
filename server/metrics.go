package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	rtmetrics "runtime/metrics"
	"sort"
	"strconv"
	"time"

	"github.com/beevik/etree"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wimp-project/wimp/auth"
	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/soap"
	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/workflow"
)

// Metrics is what /metrics exposes (README, "What runs where"), through a registry of its own
// (not the process-wide default, so that tests can run many servers). The server measures its
// requests itself and reads the host at each scrape; the store's commits and the host's timer
// firings are reported by them, so those are wired where the store and the host are made,
// before New:
//
//	m := server.NewMetrics()
//	st, err := sqlite.Open(ctx, path, sqlite.WithObserver(m.ObserveBatch))
//	h, err := host.New(host.Config{Store: st, ..., Observer: m.HostObserver()})
//	handler := server.New(h, server.Options{Metrics: m, ...})
//
// One Metrics serves one handler.
type Metrics struct {
	reg        *prometheus.Registry
	requests   *prometheus.CounterVec   // by endpoint and HTTP status
	latency    *prometheus.HistogramVec // by endpoint and operation
	operations *prometheus.CounterVec   // SOAP operations by operation, outcome and fault code
	readErrors *prometheus.CounterVec   // families left out of a scrape, by family

	commits *prometheus.CounterVec // the store's transactions by result
	// commits' series, resolved once: the writer's goroutine reports every batch, and waits.
	committed, failed, timedOut prometheus.Counter
	commitTime                  prometheus.Histogram // committed transactions, fsync included
	batchSize                   prometheus.Histogram // calls per committed transaction
	lateness                    prometheus.Histogram // how late durable timers fired
}

// durationBuckets are the buckets of request and commit durations, in seconds.
var durationBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// NewMetrics makes the metrics of one server, the store's commits (ObserveBatch) and the
// timer loop's lateness (HostObserver) included.
func NewMetrics() *Metrics {
	m := newMetrics()
	m.reg.MustRegister(m.commits, m.commitTime, m.batchSize, m.lateness)
	return m
}

// newMetrics makes every instrument but registers only those the server feeds itself: a
// server whose store and host were not wired to it (Options.Metrics nil) shows no commit or
// timer family rather than ones that stay empty.
func newMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wimp_http_requests_total",
			Help: "HTTP requests by endpoint and status code."}, []string{"endpoint", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "wimp_http_request_duration_seconds",
			Help:    "Time from a request's arrival to the end of its reply, by endpoint and SOAP operation (\"none\" before one is known).",
			Buckets: durationBuckets},
			[]string{"endpoint", "operation"}),
		operations: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wimp_operations_total",
			Help: "SOAP operations of both endpoints (MS-WFIM and hosting) by operation and outcome (ok, or the fault's subcode), and the fault's code: ok, Sender (the request's fault) or Receiver (the server's)."},
			[]string{"operation", "outcome", "code"}),
		readErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wimp_metrics_read_errors_total",
			Help: "Scrapes that left out a family read from the store, because the read failed or took longer than " + storeReadTimeout.String() + ", by family."},
			[]string{"family"}),
		commits: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wimp_store_commits_total",
			Help: "Transactions of the store's group commit by result: committed (one fsync), failed (rolled back, nothing written: an I/O error, a full disk) or timeout (the database stayed locked until every call of the batch had timed out)."},
			[]string{"result"}),
		commitTime: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "wimp_store_commit_duration_seconds",
			Help:    "Time of each committed transaction of the store's group commit, from taking its batch to the end of COMMIT (the fsync, and waits while the database was locked, included).",
			Buckets: durationBuckets}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "wimp_store_commit_batch_size",
			Help:    "Calls (commits, claims, lease renewals, ...) carried by each committed transaction of the store's group commit.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 12)}),
		lateness: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "wimp_timer_lateness_seconds",
			Help:    "How long after its due time each durable timer fired (the timer loop's; not timers held while their instance was suspended).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 3600}}),
	}
	m.committed, m.failed, m.timedOut = m.commits.WithLabelValues("committed"), m.commits.WithLabelValues("failed"),
		m.commits.WithLabelValues("timeout")
	for _, family := range []string{instancesFamily, timersFamily} {
		m.readErrors.WithLabelValues(family) // shown at 0 before the first error
	}
	m.reg.MustRegister(m.requests, m.latency, m.operations,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		runtimeGauge{prometheus.NewDesc("go_gc_heap_live_bytes", "Heap bytes marked live by the last completed GC cycle.", nil, nil),
			"/gc/heap/live:bytes", prometheus.GaugeValue},
		runtimeGauge{prometheus.NewDesc("go_gc_cycles_total", "Completed GC cycles.", nil, nil),
			"/gc/cycles/total:gc-cycles", prometheus.CounterValue},
	)
	return m
}

// bind registers what is read from h, and from a when authentication is on, at each scrape.
func (m *Metrics) bind(h *host.Host, a *auth.Authenticator, log *slog.Logger) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "wimp_instances_loaded", Help: "Workflow instances held in memory."},
			func() float64 { return float64(h.Loaded()) }),
		snapshotCounter{desc: prometheus.NewDesc("wimp_store_errors_total",
			"Operations and lease renewals the store could not complete, by kind (timeout, lease: this node's lease lapsed, conflict, closed, unknown: the commit lost its connection and its outcome could not be learned, other); an operation on an instance another live node holds goes there and is not counted here.", []string{"kind"}, nil),
			read: h.StoreErrors},
		storeGauges{h: h, log: log, errs: m.readErrors,
			instances: prometheus.NewDesc(instancesFamily, "Stored workflow instances by state (Active, Suspended, Completed), from the counts the store keeps: no scan of the instances.",
				[]string{"state"}, nil),
			timers: prometheus.NewDesc(timersFamily, "Active instances with a durable timer pending, due or not (or a retry time after failed executions), from the store's due-timer index.",
				nil, nil)},
		// Counts the host keeps for its other features: a snapshotCounter for counts by kind, a
		// CounterFunc or GaugeFunc over a host method for a single number.
		snapshotCounter{desc: prometheus.NewDesc("wimp_bulk_instances_total",
			"Instances bulk jobs have handled since the server started, by outcome (ok, or the MS-WFIM fault subcode a single call would get).",
			[]string{"outcome"}, nil), read: h.BulkItems},
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "wimp_bulk_jobs_running", Help: "Bulk jobs this server is executing."},
			func() float64 { return float64(h.RunningBulkJobs()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "wimp_purged_instances_total",
			Help: "Completed instances purged (by Purge or the completed retention) since the server started."},
			func() float64 { return float64(h.Purged()) }),
		// Several nodes on one store (README, "Running several nodes").
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "wimp_leases_held",
			Help: "Instance leases this node holds (the instances it has loaded: it holds the lease of each while it is loaded)."},
			func() float64 { return float64(h.LeasesHeld()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "wimp_fencing_rejections_total",
			Help: "Writes the store refused since the server started because this node no longer held the instance's lease (taken over, or its registration lapsed)."},
			func() float64 { return float64(h.FencingRejections()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "wimp_takeovers_total",
			Help: "Instances this node took over since the server started: their lease was held by a node (or an earlier run of this one) whose registration had lapsed."},
			func() float64 { return float64(h.Takeovers()) }),
	)
	if a != nil {
		m.reg.MustRegister(snapshotCounter{desc: prometheus.NewDesc("wimp_auth_failures_total",
			"Failed authentications by mechanism (basic, wsse) and result (bad-credentials, limited: refused while the address was limited).",
			[]string{"mechanism", "result"}, nil), read: a.Failures})
	}
}

// bindPeers registers the forwarding counts of p.
func (m *Metrics) bindPeers(p *peers) {
	m.reg.MustRegister(snapshotCounter{desc: prometheus.NewDesc("wimp_forwarded_operations_total",
		"Operations on instances another node holds that this node forwarded to it since start, by outcome (relayed: the holder's reply went to the client; failed: the holder could not be reached and the client got this node's Receiver fault; unknown: the holder was sent it but did not answer, and the client got HTTP 502).",
		[]string{"outcome"}, nil), read: func() map[string]uint64 {
		return map[string]uint64{"relayed": uint64(p.forwarded.Load()), "failed": uint64(p.failed.Load()), "unknown": uint64(p.unknown.Load())}
	}})
}

// ObserveBatch counts one batch of the SQLite store's group commit: the function for
// sqlite.WithObserver. It runs on the store's writer goroutine, once per batch.
func (m *Metrics) ObserveBatch(b store.BatchInfo) {
	switch {
	case b.Err == nil:
		m.committed.Inc()
		m.commitTime.Observe(b.Duration.Seconds())
		m.batchSize.Observe(float64(b.Requests))
	case b.Requests == 0:
		m.timedOut.Inc()
	default:
		m.failed.Inc()
	}
}

// HostObserver is the host.Config.Observer that feeds the timer lateness histogram.
func (m *Metrics) HostObserver() host.Observer {
	return host.Observer{TimerFired: func(late time.Duration) { m.lateness.Observe(late.Seconds()) }}
}

// The families storeGauges reads from the store.
const (
	instancesFamily = "wimp_instances"
	timersFamily    = "wimp_timers_pending"
)

// storeReadTimeout bounds each store read of a scrape: the store answers both from small
// tables and indexes in milliseconds, so a read that takes longer is stuck, not slow.
const storeReadTimeout = time.Second

// storeGauges reads, at each scrape, the gauges the store answers without reading every
// instance. A family whose read fails or times out is left out of that scrape (the rest is
// served) and counted in wimp_metrics_read_errors_total, which it serves after its reads, so
// that a scrape shows its own failures.
type storeGauges struct {
	h                 *host.Host
	log               *slog.Logger
	errs              *prometheus.CounterVec
	instances, timers *prometheus.Desc
}

func (g storeGauges) Describe(ch chan<- *prometheus.Desc) {
	ch <- g.instances
	ch <- g.timers
	g.errs.Describe(ch)
}

func (g storeGauges) Collect(ch chan<- prometheus.Metric) {
	if counts, ok := readStore(g, instancesFamily, g.h.InstanceStates); ok {
		for _, s := range []workflow.State{workflow.Active, workflow.Suspended, workflow.Completed} {
			ch <- prometheus.MustNewConstMetric(g.instances, prometheus.GaugeValue, float64(counts[s]), string(s))
		}
	}
	if n, ok := readStore(g, timersFamily, g.h.PendingTimers); ok {
		ch <- prometheus.MustNewConstMetric(g.timers, prometheus.GaugeValue, float64(n))
	}
	g.errs.Collect(ch)
}

// readStore runs one read of g's within storeReadTimeout; a failure is counted and logged.
func readStore[T any](g storeGauges, family string, read func(context.Context) (T, error)) (T, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), storeReadTimeout)
	defer cancel()
	v, err := read(ctx)
	if err != nil {
		g.errs.WithLabelValues(family).Inc()
		g.log.Warn("a metric could not be read from the store; it is left out of this scrape", "family", family, "err", err)
		return v, false
	}
	return v, true
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
func (m *Metrics) handler() http.Handler {
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
func (m *Metrics) count(endpoint string, next http.Handler) http.Handler {
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

// noteOperation names the request's operation for count (countOperations does, first thing).
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

// countOperations wraps a contract's operations (both endpoints' go through it): each names
// its request's operation for the latency histogram before anything else, and its outcome is
// counted, whichever step refused it (Authorize, the arguments, the host): "ok", or the
// fault's subcode (its code, for faults without one), with the code telling the request's
// faults (Sender) from the server's (Receiver). An error that is no fault is answered as a
// Receiver fault by the endpoint, and counted so.
func (m *Metrics) countOperations(ops []soap.Operation) []soap.Operation {
	for i := range ops {
		name, handle := ops[i].Element.Local, ops[i].Handle
		ops[i].Handle = func(ctx context.Context, req *soap.Request) (*etree.Element, error) {
			noteOperation(ctx, name)
			reply, err := handle(ctx, req)
			outcome, code := "ok", "ok"
			if err != nil {
				outcome, code = "error", soap.Receiver.String()
				var f *soap.Fault
				if errors.As(err, &f) {
					outcome, code = f.Code.String(), f.Code.String()
					if len(f.Subcodes) > 0 {
						outcome = f.Subcodes[len(f.Subcodes)-1].Local
					}
				}
			}
			m.operations.WithLabelValues(name, outcome, code).Inc()
			return reply, err
		}
	}
	return ops
}
