package main

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/bench/internal/report"
	"github.com/wimp-project/wimp/bench/internal/wfim"
	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/hosting"
)

// loadResult is one measured configuration in one round.
type loadResult struct {
	ops                     int
	opsPerSec, p50Ms, p99Ms float64
	failed                  int      // replies that were not the empty response (each stops its client)
	failures                []string // the first few of them
	forwarded               map[string]float64
}

// createWaiting creates one waiting ExpenseApproval instance per client over the hosting
// endpoint, the i-th on node i mod len(urls), so that with several nodes each holds a share.
func createWaiting(urls []string, clients int) ([]uuid.UUID, error) {
	ids := make([]uuid.UUID, clients)
	errs := make(chan error, clients)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			id, err := hosting.NewClient(urls[i%len(urls)]+"/WorkflowHosting").Create(ctx, host.CreateRequest{
				Definition: "ExpenseApproval", Version: "1.0.0.0", Inputs: map[string]any{"amount": 10.0, "submitter": "bench"}})
			if err != nil {
				errs <- fmt.Errorf("creating an ExpenseApproval on %s: %w", urls[i%len(urls)], err)
				return
			}
			ids[i] = id
		})
	}
	wg.Wait()
	close(errs)
	return ids, <-errs
}

// drive runs one client per instance for d, each alternating Suspend and Unsuspend on its own
// instance over keep-alive connections, every request to a node of urls picked at random.
// A reply that is not the operation's empty response ends its client (its instance's state is
// no longer known) and is counted.
func drive(urls []string, ids []uuid.UUID, d time.Duration) loadResult {
	transport := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: len(ids), MaxConnsPerHost: len(ids)}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: 30 * time.Second}
	var (
		mu        sync.Mutex
		latencies []time.Duration
		res       loadResult
		wg        sync.WaitGroup
	)
	deadline := time.Now().Add(d)
	for _, id := range ids {
		wg.Go(func() {
			var mine []time.Duration
			defer func() {
				mu.Lock()
				latencies = append(latencies, mine...)
				mu.Unlock()
			}()
			for i := 0; time.Now().Before(deadline); i++ {
				op, inner := "Suspend", "<reason>bench</reason>"
				if i%2 == 1 {
					op, inner = "Unsuspend", ""
				}
				base := urls[rand.IntN(len(urls))]
				start := time.Now()
				if err := wfim.Call(client, base+"/WorkflowControl", op, id, inner); err != nil {
					mu.Lock()
					res.failed++
					if len(res.failures) < 5 {
						res.failures = append(res.failures, fmt.Sprintf("%s %s via %s: %v", op, id, base, err))
					}
					mu.Unlock()
					return
				}
				mine = append(mine, time.Since(start))
			}
		})
	}
	wg.Wait()
	pct := report.Percentiles(latencies)
	res.ops = len(latencies)
	res.opsPerSec, res.p50Ms, res.p99Ms = float64(len(latencies))/d.Seconds(), pct(0.50), pct(0.99)
	return res
}

// forwardedMetric counts a node's forwarded operations by outcome.
const forwardedMetric = "wimp_forwarded_operations_total"

// scrapeForwarded reads a node's wimp_forwarded_operations_total, by outcome.
func scrapeForwarded(base string) (map[string]float64, error) {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(base + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s/metrics: HTTP %d", base, resp.StatusCode)
	}
	out := map[string]float64{}
	found := false
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), forwardedMetric)
		if !ok || (rest != "" && rest[0] != '{' && rest[0] != ' ') {
			continue
		}
		found = true
		labels, value, _ := strings.Cut(rest, " ")
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return nil, fmt.Errorf("%s/metrics: %q: %w", base, sc.Text(), err)
		}
		outcome := "total"
		if _, after, ok := strings.Cut(labels, `outcome="`); ok {
			outcome, _, _ = strings.Cut(after, `"`)
		}
		out[outcome] += v
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("%s/metrics serves no %s", base, forwardedMetric)
	}
	return out, nil
}
