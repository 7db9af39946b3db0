// Command control measures MS-WFIM management operations end to end — HTTP, SOAP, the state
// table, the host and a durable (fsync'd, synchronous=FULL) SQLite commit per operation — against
// a baseline measured in the same run on the same machine, and prints human-readable progress on
// stderr and one JSON summary line on stdout:
//
//	go run ./bench/control [-compare bare] [-clients 1,8,32,128] [-rounds 5] [-duration 3s]
//
// Each client owns one waiting ExpenseApproval instance and alternates Suspend and Unsuspend on
// it over SOAP 1.1 with keep-alive connections; every reply is checked. Each round starts fresh
// in-process servers on fresh databases in -dir (default: a temporary directory; fsync cost
// dominates, so it must be on the disk you care about) and runs, for every client count, both
// configurations back to back, alternating which goes first. The summary gives, per client
// count, medians over the rounds.
//
// The baselines (-compare):
//   - bare: a plain net/http + etree server that reads, parses and checks the same requests
//     (operation, instance id) and answers the same empty response, keeping no state. The ratio
//     is wimp's operations/s over the bare server's.
//   - batch: wimp with one transaction per commit instead of group commit. The ratio is group
//     commit's operations/s over the baseline's.
//   - bulk: the same wimp server without and with a bulk Suspend of -bulk-pool other waiting
//     instances running at the default rate; p99_ratio is the clients' p99 with the job over
//     their p99 without it.
//
// For wimp it also reports the bytes the process wrote to storage per operation
// (/proc/self/io write_bytes: the WAL and checkpoints), commits per second and the mean batch;
// and every round measures the disk's own fsync rate and latency (4 KiB write + fsync of a file in
// -dir, for -fsync-time), so that a run can be compared with what its disk allows.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/beevik/etree"
	"github.com/google/uuid"

	"github.com/wimp-project/wimp/bench/internal/report"
	"github.com/wimp-project/wimp/bench/internal/wfim"
	"github.com/wimp-project/wimp/engine"
	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/hosting"
	"github.com/wimp-project/wimp/protocol"
	"github.com/wimp-project/wimp/server"
	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/store/sqlite"
)

const (
	soap11 = "http://schemas.xmlsoap.org/soap/envelope/"
	ns     = "http://schemas.datacontract.org/2008/10/WorkflowServices"
)

func main() {
	compare := flag.String("compare", "bare", "the baseline: bare (a stateless net/http + etree server), batch (one transaction per commit) or bulk (the same server without a bulk job)")
	clientList := flag.String("clients", "1,8,32,128", "client counts, comma-separated; each client owns one instance")
	rounds := flag.Int("rounds", 5, "rounds (each runs both configurations at every client count)")
	duration := flag.Duration("duration", 3*time.Second, "measured time per configuration, client count and round")
	dir := flag.String("dir", "", "directory for the databases and the fsync probe (default: a temporary directory)")
	pool := flag.Int("bulk-pool", 2000, "with -compare bulk: instances the bulk job works through")
	fsyncTime := flag.Duration("fsync-time", time.Second, "how long each round measures the disk's fsync")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file (go tool pprof)")
	flag.Parse()
	stop, err := report.Profile(*cpuProfile)
	if err != nil {
		fail(err)
	}
	defer stop()
	if *compare != "bare" && *compare != "batch" && *compare != "bulk" {
		fail(fmt.Errorf("-compare must be bare, batch or bulk, not %q", *compare))
	}
	counts, err := parseCounts(*clientList)
	if err != nil {
		fail(err)
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "control-")
		if err != nil {
			fail(err)
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	// results[c][0] are wimp's (group commit; in bulk: without the job), [1] the baseline's.
	results := map[int][2][]result{}
	var probes []report.FsyncProbe
	for r := range *rounds {
		p, err := report.ProbeFsync(filepath.Join(*dir, "fsync-probe"), *fsyncTime)
		if err != nil {
			fail(err)
		}
		probes = append(probes, p)
		report.Progress("round %d/%d: disk fsync %.0f/s, p50 %.2f ms", r+1, *rounds, p.PerSec, p.P50Ms)
		for _, clients := range counts {
			order := []int{0, 1}
			if r%2 == 1 {
				order = []int{1, 0}
			}
			for _, which := range order {
				cfg := config{clients: clients, d: *duration}
				switch *compare {
				case "bare":
					cfg.bare = which == 1
				case "batch":
					cfg.maxBatch = which // 0: group commit, 1: the baseline
				case "bulk":
					cfg.pool, cfg.bulk = *pool, which == 1
				}
				res, err := run(filepath.Join(*dir, fmt.Sprintf("r%d-c%d-%d.db", r, clients, which)), cfg)
				if err != nil {
					fail(err)
				}
				report.Progress("  %-24s %4d clients: %8.0f ops/s  p50 %6.2f ms  p99 %6.2f ms%s", label(*compare, which), clients,
					res.opsPerSec, res.p50Ms, res.p99Ms, res.storeSummary())
				rs := results[clients]
				rs[which] = append(rs[which], res)
				results[clients] = rs
			}
		}
	}
	out := map[string]any{"compare": *compare, "rounds": *rounds, "duration_s": duration.Seconds(), "cpus": runtime.NumCPU(),
		"fsync_per_s":  report.Round(report.Median(probes, func(p report.FsyncProbe) float64 { return p.PerSec })),
		"fsync_p50_ms": report.Round(report.Median(probes, func(p report.FsyncProbe) float64 { return p.P50Ms }))}
	if *compare == "bulk" {
		out["bulk_pool"], out["bulk_rate_per_s"] = *pool, host.DefaultBulkRate
	}
	var per []map[string]any
	for _, clients := range counts {
		w, b := results[clients][0], results[clients][1]
		wOps, bOps := report.Median(w, opsPerSec), report.Median(b, opsPerSec)
		wP99, bP99 := report.Median(w, p99), report.Median(b, p99)
		c := map[string]any{"clients": clients,
			"ops_per_s": report.Round(wOps), "p50_ms": report.Round(report.Median(w, p50)), "p99_ms": report.Round(wP99),
			"baseline_ops_per_s": report.Round(bOps), "baseline_p50_ms": report.Round(report.Median(b, p50)), "baseline_p99_ms": report.Round(bP99),
			"ratio":            report.Round(wOps / bOps),
			"rounds_ops_per_s": report.Each(w, opsPerSec), "baseline_rounds_ops_per_s": report.Each(b, opsPerSec),
			"bytes_written_per_op": report.Round(report.Median(w, func(r result) float64 { return r.bytesPerOp })),
			"commits_per_s":        report.Round(report.Median(w, func(r result) float64 { return r.commitsPerSec })),
			"mean_batch":           report.Round(report.Median(w, func(r result) float64 { return r.meanBatch })),
		}
		if *compare == "bulk" {
			c["p99_ratio"] = report.Round(bP99 / wP99)
			c["bulk_done_median"] = report.Median(b, func(r result) float64 { return float64(r.bulkDone) })
		}
		per = append(per, c)
	}
	out["by_clients"] = per
	_ = json.NewEncoder(os.Stdout).Encode(out)
}

func label(compare string, which int) string {
	names := map[string][2]string{"bare": {"wimp", "bare net/http + etree"}, "batch": {"wimp, group commit", "wimp, 1 tx per commit"},
		"bulk": {"wimp alone", "wimp beside a bulk job"}}
	return names[compare][which]
}

func parseCounts(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-clients %q: want positive whole numbers separated by commas", s)
		}
		out = append(out, n)
	}
	return out, nil
}

// config is one measured configuration.
type config struct {
	clients  int
	d        time.Duration
	bare     bool // the stateless baseline server instead of wimp
	maxBatch int  // 0: group commit; 1: one transaction per commit
	pool     int  // waiting instances for a bulk job (created in both bulk configurations)
	bulk     bool // a bulk Suspend of the pool runs at the default rate while measuring
}

type result struct {
	opsPerSec, p50Ms, p99Ms float64
	bytesPerOp              float64 // storage bytes written per operation (wimp only)
	commitsPerSec           float64
	meanBatch               float64 // requests per committed batch
	bulkDone                int64   // instances the bulk job had handled when the measurement ended
	wimp                    bool
}

func (r result) storeSummary() string {
	if !r.wimp {
		return ""
	}
	return fmt.Sprintf("  %6.0f B written/op  %6.0f commits/s  batch %.1f", r.bytesPerOp, r.commitsPerSec, r.meanBatch)
}

func opsPerSec(r result) float64 { return r.opsPerSec }
func p50(r result) float64       { return r.p50Ms }
func p99(r result) float64       { return r.p99Ms }

// batches counts the store's committed batches and the requests in them.
type batches struct{ n, requests atomic.Int64 }

func (b *batches) observe(i store.BatchInfo) {
	if i.Err == nil && i.Requests > 0 {
		b.n.Add(1)
		b.requests.Add(int64(i.Requests))
	}
}

// run measures one configuration.
func run(path string, cfg config) (result, error) {
	ids := make([]uuid.UUID, cfg.clients)
	if cfg.bare {
		for i := range ids {
			ids[i] = uuid.New()
		}
		srv := httptest.NewServer(bareServer{})
		defer srv.Close()
		return drive(srv.URL, ids, cfg.d, nil)
	}
	ctx := context.Background()
	var counted batches
	metrics := server.NewMetrics() // as wimp-server wires them: the store and the host report to /metrics
	st, err := sqlite.Open(ctx, path, sqlite.WithMaxBatch(cfg.maxBatch), sqlite.WithObserver(func(b store.BatchInfo) {
		metrics.ObserveBatch(b)
		counted.observe(b)
	}))
	if err != nil {
		return result{}, err
	}
	defer st.Close()
	defs, err := engine.LoadRegistry("")
	if err != nil {
		return result{}, err
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h, err := host.New(host.Config{Store: st, Definitions: defs, Logger: log, UnloadAfter: -1, Observer: metrics.HostObserver(),
		Bulk: protocol.Bulk{}})
	if err != nil {
		return result{}, err
	}
	if err := h.Start(ctx); err != nil {
		return result{}, err
	}
	defer h.Close()
	srv := httptest.NewServer(server.New(h, server.Options{MaxBody: 64 << 10, Log: log, Metrics: metrics}))
	defer srv.Close()
	hc := hosting.NewClient(srv.URL + "/WorkflowHosting")
	for i := range ids {
		if ids[i], err = hc.Create(ctx, host.CreateRequest{Definition: "ExpenseApproval", Version: "1.0.0.0",
			Inputs: map[string]any{"amount": 10.0, "submitter": "bench"}}); err != nil {
			return result{}, err
		}
	}
	for range cfg.pool {
		if _, err := hc.Create(ctx, host.CreateRequest{Definition: "SalesCollaboration",
			Inputs: map[string]any{"lead": "bench", "salesperson": "bench"}}); err != nil {
			return result{}, err
		}
	}
	var job *host.BulkJob
	if cfg.bulk {
		if job, err = h.StartBulk(ctx, host.BulkRequest{Operation: "Suspend", Reason: "bench",
			Filter: host.Filter{Definition: "SalesCollaboration"}}); err != nil {
			return result{}, err
		}
	}
	written0, err := writeBytes()
	if err != nil {
		return result{}, err
	}
	n0, req0 := counted.n.Load(), counted.requests.Load()
	res, err := drive(srv.URL, ids, cfg.d, func(res *result, ops int) error {
		written, err := writeBytes()
		if err != nil {
			return err
		}
		n, reqs := counted.n.Load()-n0, counted.requests.Load()-req0
		res.wimp = true
		res.bytesPerOp = float64(written-written0) / float64(max(ops, 1))
		res.commitsPerSec = float64(n) / cfg.d.Seconds()
		if n > 0 {
			res.meanBatch = float64(reqs) / float64(n)
		}
		return nil
	})
	if err != nil {
		return result{}, err
	}
	if job != nil {
		j, _, err := h.GetBulk(ctx, job.ID, 0, 0)
		if err != nil {
			return result{}, err
		}
		if j.Status != "Running" {
			return result{}, fmt.Errorf("the bulk job ended before the measurement did (%d instances): use a larger -bulk-pool", j.Done)
		}
		res.bulkDone = j.Done
	}
	return res, nil
}

// drive runs one client per instance for d, each alternating Suspend and Unsuspend on its own
// instance over a keep-alive connection; measured (if not nil) runs as soon as the measured
// time is over, before anything else is torn down.
func drive(base string, ids []uuid.UUID, d time.Duration, measured func(*result, int) error) (result, error) {
	transport := &http.Transport{MaxIdleConnsPerHost: len(ids), MaxConnsPerHost: len(ids)}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport}
	var (
		mu        sync.Mutex
		latencies []time.Duration
		firstErr  error
		wg        sync.WaitGroup
	)
	deadline := time.Now().Add(d)
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for i := 0; time.Now().Before(deadline); i++ {
				op, inner := "Suspend", "<reason>bench</reason>"
				if i%2 == 1 {
					op, inner = "Unsuspend", ""
				}
				start := time.Now()
				if err := wfim.Call(client, base+"/WorkflowControl", op, id, inner); err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					return
				}
				mine = append(mine, time.Since(start))
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return result{}, firstErr
	}
	var res result
	if measured != nil {
		if err := measured(&res, len(latencies)); err != nil {
			return result{}, err
		}
	}
	pct := report.Percentiles(latencies)
	res.opsPerSec, res.p50Ms, res.p99Ms = float64(len(latencies))/d.Seconds(), pct(0.50), pct(0.99)
	return res, nil
}

// bareServer is the baseline: it does what any SOAP server must for these requests — read the
// bounded body, parse the XML, find the operation in the Body, check it against SOAPAction, read
// and parse the instance id — and answers the empty response, keeping no state and writing
// nothing to disk.
type bareServer struct{}

func (bareServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	doc := etree.NewDocument()
	if _, err := doc.ReadFrom(http.MaxBytesReader(w, r.Body, 64<<10)); err != nil {
		http.Error(w, "unreadable XML", http.StatusBadRequest)
		return
	}
	env := doc.Root()
	var body *etree.Element
	if env != nil {
		body = env.SelectElement("Body")
	}
	if env == nil || env.Tag != "Envelope" || env.NamespaceURI() != soap11 || body == nil || len(body.ChildElements()) != 1 {
		http.Error(w, "not a SOAP 1.1 envelope with one body element", http.StatusBadRequest)
		return
	}
	op := body.ChildElements()[0]
	action := strings.Trim(r.Header.Get("SOAPAction"), `"`)
	if op.NamespaceURI() != ns || action != ns+"/IWorkflowInstanceManagement/"+op.Tag {
		http.Error(w, "the operation does not match SOAPAction", http.StatusBadRequest)
		return
	}
	idEl := op.SelectElement("instanceId")
	if idEl == nil {
		http.Error(w, "no instanceId", http.StatusBadRequest)
		return
	}
	if _, err := uuid.Parse(idEl.Text()); err != nil {
		http.Error(w, "bad instanceId", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	_, _ = io.WriteString(w, `<s:Envelope xmlns:s="`+soap11+`"><s:Body><`+op.Tag+`Response xmlns="`+ns+`"/></s:Body></s:Envelope>`)
}

// writeBytes is /proc/self/io's write_bytes: the bytes this process caused to be written to
// storage (counted when pages are dirtied, so socket writes are not in it).
func writeBytes() (int64, error) {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0, fmt.Errorf("bytes written: %w (Linux /proc/self/io is needed)", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "write_bytes: "); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("no write_bytes in /proc/self/io")
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "control:", err)
	os.Exit(1)
}
