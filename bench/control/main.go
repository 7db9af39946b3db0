// Command wfimbench measures MS-WFIM management throughput end to end — HTTP, SOAP, the state
// table, the host and a durable (fsync'd) SQLite commit per operation — and compares, in the
// same run on the same machine, the store's group commit against a baseline of one
// transaction per commit. It prints one JSON line:
//
//	go run ./bench/wfimbench [-clients 32] [-rounds 3] [-duration 3s]
//
// Each client owns one waiting ExpenseApproval instance and alternates Suspend and Unsuspend on
// it over SOAP 1.1 (every reply is checked). Each round starts fresh in-process servers on fresh
// databases in -dir (default: a temporary directory; fsync cost dominates, so it must be on the
// disk you care about), runs both configurations back to back (alternating which goes first)
// and reports operations per second and latency percentiles; the summary gives medians.
//
// With -compare bulk the two configurations are instead the same server (group commit) without
// and with a bulk job running: each round also creates -bulk-pool waiting SalesCollaboration
// instances, and in the second configuration a bulk Suspend of them runs at the default rate
// (host.DefaultBulkRate) for the whole measured time. The summary's p99_ratio is the clients'
// p99 with the job over their p99 without it (issue: at most 2).
//
//	go run ./bench/wfimbench -compare bulk -clients 8 -rounds 5 -duration 5s
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
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/engine"
	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/hosting"
	"github.com/wimp-project/wimp/protocol"
	"github.com/wimp-project/wimp/server"
	"github.com/wimp-project/wimp/store/sqlite"
)

const ns = "http://schemas.datacontract.org/2008/10/WorkflowServices"

type result struct {
	opsPerSec   float64
	p50, p99Ms  float64
	clientCount int
	bulkDone    int64 // instances the bulk job had handled when the measurement ended
}

func main() {
	clients := flag.Int("clients", 32, "concurrent clients, one instance each")
	rounds := flag.Int("rounds", 3, "rounds (each runs both configurations)")
	duration := flag.Duration("duration", 3*time.Second, "measured time per configuration and round")
	dir := flag.String("dir", "", "directory for the databases (default: a temporary directory)")
	compare := flag.String("compare", "batch", "batch: group commit vs one transaction per commit; bulk: without vs with a bulk job")
	pool := flag.Int("bulk-pool", 2000, "with -compare bulk: instances the bulk job works through")
	flag.Parse()
	if *compare != "batch" && *compare != "bulk" {
		fail(fmt.Errorf("-compare must be batch or bulk, not %q", *compare))
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "wfimbench-")
		if err != nil {
			fail(err)
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	var group, base []result
	for r := 0; r < *rounds; r++ {
		order := []int{0, 1}
		if r%2 == 1 {
			order = []int{1, 0}
		}
		for _, second := range order {
			cfg := config{clients: *clients, d: *duration}
			if *compare == "batch" {
				cfg.maxBatch = second // 0: group commit, 1: the baseline
			} else {
				cfg.pool, cfg.bulk = *pool, second == 1
			}
			res, err := run(filepath.Join(*dir, fmt.Sprintf("r%d-c%d.db", r, second)), cfg)
			if err != nil {
				fail(err)
			}
			if second == 0 {
				group = append(group, res)
			} else {
				base = append(base, res)
			}
		}
	}
	g, b := median(group), median(base)
	if *compare == "bulk" {
		_ = json.NewEncoder(os.Stdout).Encode(map[string]any{
			"compare": "bulk", "clients": *clients, "rounds": *rounds, "duration_s": duration.Seconds(),
			"bulk_pool": *pool, "bulk_rate_per_s": host.DefaultBulkRate,
			"alone_ops_per_s": round(g.opsPerSec), "with_bulk_ops_per_s": round(b.opsPerSec),
			"alone_p50_ms": round(g.p50), "alone_p99_ms": round(g.p99Ms),
			"with_bulk_p50_ms": round(b.p50), "with_bulk_p99_ms": round(b.p99Ms),
			"p99_ratio":        round(b.p99Ms / g.p99Ms),
			"bulk_done_median": medianOf(bulkDone(base)),
			"cpus":             runtime.NumCPU(),
		})
		return
	}
	out := map[string]any{
		"clients": *clients, "rounds": *rounds, "duration_s": duration.Seconds(),
		"group_ops_per_s": round(g.opsPerSec), "baseline_ops_per_s": round(b.opsPerSec),
		"ratio":        round(g.opsPerSec / b.opsPerSec),
		"group_p50_ms": round(g.p50), "group_p99_ms": round(g.p99Ms),
		"baseline_p50_ms": round(b.p50), "baseline_p99_ms": round(b.p99Ms),
		"group_rounds_ops_per_s": perRound(group), "baseline_rounds_ops_per_s": perRound(base),
		"cpus": runtime.NumCPU(),
	}
	_ = json.NewEncoder(os.Stdout).Encode(out)
}

// config is one measured configuration.
type config struct {
	clients  int
	d        time.Duration
	maxBatch int  // 0: group commit; 1: one transaction per commit
	pool     int  // waiting instances for a bulk job (created in both bulk configurations)
	bulk     bool // a bulk Suspend of the pool runs at the default rate while measuring
}

// run measures one configuration.
func run(path string, cfg config) (result, error) {
	ctx := context.Background()
	maxBatch, clients, d := cfg.maxBatch, cfg.clients, cfg.d
	metrics := server.NewMetrics() // as wimp-server wires them: the store and the host report to /metrics
	st, err := sqlite.Open(ctx, path, sqlite.WithMaxBatch(maxBatch), sqlite.WithObserver(metrics.ObserveBatch))
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
	ids := make([]uuid.UUID, clients)
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
	transport := &http.Transport{MaxIdleConnsPerHost: clients}
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
				if err := call(client, srv.URL, op, id, inner); err != nil {
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
	res := result{clientCount: clients}
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
	slices.Sort(latencies)
	pct := func(p float64) float64 {
		if len(latencies) == 0 {
			return 0
		}
		return float64(latencies[int(p*float64(len(latencies)-1))].Microseconds()) / 1000
	}
	res.opsPerSec, res.p50, res.p99Ms = float64(len(latencies))/d.Seconds(), pct(0.50), pct(0.99)
	return res, nil
}

func call(c *http.Client, base, op string, id uuid.UUID, inner string) error {
	body := `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><` + op + ` xmlns="` + ns + `"><instanceId>` +
		id.String() + `</instanceId>` + inner + `</` + op + `></s:Body></s:Envelope>`
	req, err := http.NewRequest(http.MethodPost, base+"/WorkflowControl", strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("SOAPAction", `"`+ns+`/IWorkflowInstanceManagement/`+op+`"`)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 || !strings.Contains(string(b), op+"Response") {
		return fmt.Errorf("%s: HTTP %d: %s", op, resp.StatusCode, b)
	}
	return nil
}

func median(rs []result) result {
	pick := func(f func(result) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	return result{
		opsPerSec: pick(func(r result) float64 { return r.opsPerSec }),
		p50:       pick(func(r result) float64 { return r.p50 }),
		p99Ms:     pick(func(r result) float64 { return r.p99Ms }),
	}
}

func bulkDone(rs []result) []float64 {
	out := make([]float64, len(rs))
	for i, r := range rs {
		out[i] = float64(r.bulkDone)
	}
	return out
}

func medianOf(v []float64) float64 {
	slices.Sort(v)
	return v[len(v)/2]
}

func perRound(rs []result) []float64 {
	out := make([]float64, len(rs))
	for i, r := range rs {
		out[i] = round(r.opsPerSec)
	}
	return out
}

func round(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }

func fail(err error) {
	fmt.Fprintln(os.Stderr, "wfimbench:", err)
	os.Exit(1)
}
