// Command cluster measures wimp on several nodes: the throughput of one node on SQLite, one node
// on PostgreSQL and three nodes on one PostgreSQL database under the same load in the same run,
// and the time the surviving nodes take to take over a node's timers after it is killed. It
// prints human-readable progress on stderr and one JSON summary line on stdout:
//
//	go run ./bench/cluster [-clients 32] [-rounds 3] [-duration 3s] [-lease 2s] [-kills 3] [-pg URL]
//
// Throughput: wimp-server processes (built from this module unless -server names one) with their
// defaults (synchronous=FULL on SQLite, --lease 10s, --unload-after 1m) on a fresh database per
// configuration and round; -clients ExpenseApproval instances are created (with three nodes, a
// third on each, which then holds their leases), and every client alternates MS-WFIM Suspend
// and Unsuspend of its own instance over SOAP 1.1 for -duration, each request sent to a node
// picked at random, so that with three nodes about two requests in three reach a node that
// does not hold the instance and are forwarded to the one that does. Each round runs the three
// configurations in a rotated order; medians over rounds, and ratios to one node on SQLite.
// Every reply must be the empty response: a fault ends its client and is reported.
//
// Takeover: three nodes on one fresh PostgreSQL database with --lease -lease. -kills times, a
// node (in turn) gets -timers instances of a one-Delay workflow due -due after their creation,
// is killed with SIGKILL at once, and restarted after its instances completed elsewhere. Each
// instance's Completed tracking record is when its timer fired on a surviving node; it must
// have exactly one. Reported: that time after the kill (the takeover time; the documented bound
// is the lease plus a third of it, README "Running several nodes", for a timer due before the
// lease lapses, as with -due below -lease) and after the later of the kill and the due time
// (how late the death made the timer).
//
// -pg is a PostgreSQL server URL whose user may create databases (default $WIMP_TEST_POSTGRES,
// else postgres://root@127.0.0.1:5432/postgres?sslmode=disable); each configuration gets its
// own database, dropped at the end.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/wimp-project/wimp/bench/internal/report"
)

// config is one throughput configuration.
type config struct {
	name  string // key in the summary
	nodes int
	pg    bool // PostgreSQL (else a SQLite file)
}

var configs = []config{{"sqlite_1", 1, false}, {"postgres_1", 1, true}, {"postgres_3", 3, true}}

func main() {
	clients := flag.Int("clients", 32, "concurrent SOAP clients, each driving its own instance")
	rounds := flag.Int("rounds", 3, "rounds (each measures every configuration)")
	duration := flag.Duration("duration", 3*time.Second, "measured load per configuration and round")
	lease := flag.Duration("lease", 2*time.Second, "takeover: the nodes' --lease")
	kills := flag.Int("kills", 3, "takeover: kill -9/restart cycles (0: no takeover measurement)")
	timers := flag.Int("timers", 5, "takeover: timer instances created on each victim just before its kill")
	due := flag.Duration("due", time.Second, "takeover: how long after its creation each victim's timer falls due")
	pg := flag.String("pg", defaultPG(), "PostgreSQL server URL (each configuration creates its own database)")
	serverBin := flag.String("server", "", "the wimp-server binary (default: built from this module)")
	dir := flag.String("dir", "", "directory for the SQLite databases and the servers' logs (default: a temporary directory)")
	flag.Parse()
	if *clients < 1 || *rounds < 1 || *duration <= 0 || *lease <= 0 || *kills < 0 || *timers < 1 || *due < 0 {
		fail(errors.New("-clients, -rounds, -duration, -lease and -timers must be positive, -kills and -due not negative"))
	}
	cleanupOnSignal()
	defer cleanup()
	if *dir == "" {
		d, err := os.MkdirTemp("", "cluster-bench-")
		if err != nil {
			fail(err)
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	bin := *serverBin
	if bin == "" {
		var err error
		if bin, err = buildServer(*dir); err != nil {
			fail(err)
		}
	}
	b := &bench{bin: bin, dir: *dir, pg: *pg}

	results := map[string][]loadResult{}
	for r := range *rounds {
		for k := range configs {
			c := configs[(r+k)%len(configs)]
			res, err := b.throughput(c, r, *clients, *duration)
			if err != nil {
				fail(fmt.Errorf("round %d, %s: %w", r+1, c.name, err))
			}
			report.Progress("round %d %-10s %8.0f ops/s  p50 %.2f ms  p99 %.2f ms  forwarded %v", r+1, c.name, res.opsPerSec, res.p50Ms, res.p99Ms, res.forwarded)
			if res.failed > 0 {
				fail(fmt.Errorf("round %d, %s: %d clients got a reply that was not the empty response, e.g. %v", r+1, c.name, res.failed, res.failures))
			}
			results[c.name] = append(results[c.name], res)
		}
	}
	out := map[string]any{"benchmark": "cluster", "clients": *clients, "rounds": *rounds, "duration_s": duration.Seconds()}
	medians := map[string]float64{}
	for _, c := range configs {
		rs := results[c.name]
		medians[c.name] = report.Median(rs, func(r loadResult) float64 { return r.opsPerSec })
		s := map[string]any{
			"nodes": c.nodes, "ops_per_s": medians[c.name],
			"p50_ms": report.Median(rs, func(r loadResult) float64 { return r.p50Ms }),
			"p99_ms": report.Median(rs, func(r loadResult) float64 { return r.p99Ms }),
			"rounds": report.Each(rs, func(r loadResult) float64 { return r.opsPerSec }),
		}
		if c.nodes > 1 {
			s["forwarded_relayed"] = report.Median(rs, func(r loadResult) float64 { return r.forwarded["relayed"] })
			s["forwarded_share"] = report.Median(rs, func(r loadResult) float64 { return r.forwarded["relayed"] / float64(max(r.ops, 1)) })
		}
		out[c.name] = s
	}
	out["ratios"] = map[string]float64{
		"postgres_1_vs_sqlite_1":   report.Round(medians["postgres_1"] / medians["sqlite_1"]),
		"postgres_3_vs_sqlite_1":   report.Round(medians["postgres_3"] / medians["sqlite_1"]),
		"postgres_3_vs_postgres_1": report.Round(medians["postgres_3"] / medians["postgres_1"]),
	}
	if *kills > 0 {
		tk, err := b.takeover(*lease, *kills, *timers, *due)
		if err != nil {
			fail(fmt.Errorf("takeover: %w", err))
		}
		out["takeover"] = tk
	}
	logs, err := serverLog(*dir)
	if err != nil {
		fail(err)
	}
	out["server_log"] = logs
	cleanup()
	_ = json.NewEncoder(os.Stdout).Encode(out)
}

// bench is what every measurement of a run shares.
type bench struct {
	bin, dir, pg string
}

// throughput measures configuration c once (round r) on fresh databases.
func (b *bench) throughput(c config, r, clients int, d time.Duration) (loadResult, error) {
	db := filepath.Join(b.dir, fmt.Sprintf("round%d-%s.db", r+1, c.name))
	if c.pg {
		url, drop, err := freshDatabase(b.pg)
		if err != nil {
			return loadResult{}, err
		}
		defer drop()
		db = url
	}
	nodes, err := b.startNodes(c.nodes, fmt.Sprintf("round%d-%s", r+1, c.name), "--db", db)
	if err != nil {
		return loadResult{}, err
	}
	defer stopAll(nodes)
	urls := nodeURLs(nodes)
	ids, err := createWaiting(urls, clients)
	if err != nil {
		return loadResult{}, err
	}
	if warm := drive(urls, ids, d/5); warm.failed > 0 { // connections opened, caches warm
		return warm, nil
	}
	before, err := forwardedSum(urls)
	if err != nil {
		return loadResult{}, err
	}
	res := drive(urls, ids, d)
	after, err := forwardedSum(urls)
	if err != nil {
		return loadResult{}, err
	}
	res.forwarded = map[string]float64{}
	for k, v := range after {
		res.forwarded[k] = v - before[k]
	}
	return res, nil
}

// startNodes starts n nodes named prefix-nK (a single node keeps the server's default name),
// logging to dir/prefix.log, with args.
func (b *bench) startNodes(n int, prefix string, args ...string) ([]*node, error) {
	var nodes []*node
	for i := range n {
		name := ""
		if n > 1 {
			name = fmt.Sprintf("n%d", i+1)
		}
		// Nodes forward to each other with the caller's address in X-Forwarded-For.
		nd, err := startNode(b.bin, filepath.Join(b.dir, prefix+".log"), name, append(args, "--trusted-proxies", "127.0.0.1/32")...)
		if err != nil {
			stopAll(nodes)
			return nil, err
		}
		nodes = append(nodes, nd)
	}
	return nodes, nil
}

func nodeURLs(nodes []*node) []string {
	urls := make([]string, len(nodes))
	for i, n := range nodes {
		urls[i] = n.url
	}
	return urls
}

// forwardedSum is wimp_forwarded_operations_total summed over the nodes, by outcome.
func forwardedSum(urls []string) (map[string]float64, error) {
	sum := map[string]float64{}
	for _, u := range urls {
		m, err := scrapeForwarded(u)
		if err != nil {
			return nil, err
		}
		for k, v := range m {
			sum[k] += v
		}
	}
	return sum, nil
}

func defaultPG() string {
	if u := os.Getenv("WIMP_TEST_POSTGRES"); u != "" {
		return u
	}
	return "postgres://root@127.0.0.1:5432/postgres?sslmode=disable"
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "cluster:", err)
	cleanup()
	os.Exit(1)
}
