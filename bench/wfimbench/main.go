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
	"github.com/wimp-project/wimp/server"
	"github.com/wimp-project/wimp/store/sqlite"
)

const ns = "http://schemas.datacontract.org/2008/10/WorkflowServices"

type result struct {
	opsPerSec   float64
	p50, p99Ms  float64
	clientCount int
}

func main() {
	clients := flag.Int("clients", 32, "concurrent clients, one instance each")
	rounds := flag.Int("rounds", 3, "rounds (each runs both configurations)")
	duration := flag.Duration("duration", 3*time.Second, "measured time per configuration and round")
	dir := flag.String("dir", "", "directory for the databases (default: a temporary directory)")
	flag.Parse()
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
		for _, maxBatch := range order {
			res, err := run(filepath.Join(*dir, fmt.Sprintf("r%d-b%d.db", r, maxBatch)), maxBatch, *clients, *duration)
			if err != nil {
				fail(err)
			}
			if maxBatch == 0 {
				group = append(group, res)
			} else {
				base = append(base, res)
			}
		}
	}
	g, b := median(group), median(base)
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

// run measures one configuration: maxBatch 0 is group commit, 1 one transaction per commit.
func run(path string, maxBatch, clients int, d time.Duration) (result, error) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, path, sqlite.WithMaxBatch(maxBatch))
	if err != nil {
		return result{}, err
	}
	defer st.Close()
	defs, err := engine.LoadRegistry("")
	if err != nil {
		return result{}, err
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h, err := host.New(host.Config{Store: st, Definitions: defs, Logger: log, UnloadAfter: -1})
	if err != nil {
		return result{}, err
	}
	if err := h.Start(ctx); err != nil {
		return result{}, err
	}
	defer h.Close()
	srv := httptest.NewServer(server.New(h, server.Options{MaxBody: 64 << 10, Log: log}))
	defer srv.Close()
	hc := hosting.NewClient(srv.URL + "/WorkflowHosting")
	ids := make([]uuid.UUID, clients)
	for i := range ids {
		if ids[i], err = hc.Create(ctx, host.CreateRequest{Definition: "ExpenseApproval", Version: "1.0.0.0",
			Inputs: map[string]any{"amount": 10.0, "submitter": "bench"}}); err != nil {
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
	slices.Sort(latencies)
	pct := func(p float64) float64 {
		if len(latencies) == 0 {
			return 0
		}
		return float64(latencies[int(p*float64(len(latencies)-1))].Microseconds()) / 1000
	}
	return result{opsPerSec: float64(len(latencies)) / d.Seconds(), p50: pct(0.50), p99Ms: pct(0.99), clientCount: clients}, nil
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
