package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/beevik/etree"
	"github.com/google/uuid"

	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/hosting"
	"github.com/wimp-project/wimp/protocol"
)

const soap11 = "http://schemas.xmlsoap.org/soap/envelope/"

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
				if err := call(client, base+"/WorkflowControl", op, id, inner); err != nil {
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
	slices.Sort(latencies)
	pct := func(p float64) float64 {
		if len(latencies) == 0 {
			return 0
		}
		return float64(latencies[int(p*float64(len(latencies)-1))].Microseconds()) / 1000
	}
	res.ops = len(latencies)
	res.opsPerSec, res.p50Ms, res.p99Ms = float64(len(latencies))/d.Seconds(), pct(0.50), pct(0.99)
	return res
}

// call sends one MS-WFIM operation over SOAP 1.1 (the request bench/control sends) and checks
// the reply.
func call(c *http.Client, url, op string, id uuid.UUID, inner string) error {
	body := `<s:Envelope xmlns:s="` + soap11 + `"><s:Body><` + op + ` xmlns="` + protocol.NS + `"><instanceId>` +
		id.String() + `</instanceId>` + inner + `</` + op + `></s:Body></s:Envelope>`
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("SOAPAction", `"`+protocol.NS+`/IWorkflowInstanceManagement/`+op+`"`)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	return checkEmpty(op, resp.StatusCode, b)
}

// checkEmpty accepts only HTTP 200 with a SOAP 1.1 envelope whose Body holds exactly the empty
// <op>Response element of the MS-WFIM namespace.
func checkEmpty(op string, status int, b []byte) error {
	bad := func(why string) error {
		return fmt.Errorf("HTTP %d, %s: %s", status, why, bytes.TrimSpace(b[:min(len(b), 600)]))
	}
	if status != http.StatusOK {
		return bad("not 200")
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(b); err != nil {
		return bad("unreadable XML")
	}
	env := doc.Root()
	if env == nil || env.Tag != "Envelope" || env.NamespaceURI() != soap11 {
		return bad("not a SOAP 1.1 envelope")
	}
	body := env.SelectElement("Body")
	if body == nil || len(body.ChildElements()) != 1 {
		return bad("not one element in the Body")
	}
	r := body.ChildElements()[0]
	if r.Tag != op+"Response" || r.NamespaceURI() != protocol.NS || len(r.ChildElements()) != 0 || strings.TrimSpace(r.Text()) != "" {
		return bad("not the empty " + op + "Response")
	}
	return nil
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
