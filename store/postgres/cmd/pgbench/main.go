// Command pgbench measures durable commits per second of the PostgreSQL store with N
// concurrent callers, comparing group commit with one transaction per Commit call, in the same
// run against the same server, and prints one JSON line (medians over rounds).
//
//	go run ./store/postgres/cmd/pgbench -callers 64 -rounds 3 -duration 3s
//
// Each caller owns one instance and repeatedly commits an Update of it plus one tracking record
// (the shape of a persist). The configurations:
//
//   - group:   the default (one writer, up to 64 requests per transaction)
//   - group2:  two writers, each batching
//   - single:  one writer, one transaction per Commit (WithMaxBatch(1)): one round trip chain and
//     one WAL flush per call, one call at a time
//   - pool4:   four writers, one transaction per Commit: what a plain connection pool of four
//     gives (PostgreSQL still shares WAL flushes between concurrent COMMITs)
//
// Every round creates a fresh database on the server (-server, default $WIMP_TEST_POSTGRES or
// the local server as the current user), runs every configuration on it (in a rotating order)
// and drops it.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/wimp-project/wimp/store/internal/benchload"
	"github.com/wimp-project/wimp/store/postgres"
	"github.com/wimp-project/wimp/store/postgres/pgtest"
)

type config struct {
	name string
	opts []postgres.Option
}

var configs = []config{
	{"group", nil},
	{"group2", []postgres.Option{postgres.WithWriters(2)}},
	{"single", []postgres.Option{postgres.WithMaxBatch(1)}},
	{"pool4", []postgres.Option{postgres.WithMaxBatch(1), postgres.WithWriters(4)}},
}

type result struct {
	CommitsPerSec float64 `json:"commits_per_s"`
	MeanBatch     float64 `json:"mean_batch"`
	P50Ms         float64 `json:"p50_ms"`
	P99Ms         float64 `json:"p99_ms"`
	FastShare     float64 `json:"fast_share"` // of the commits, those applied by their fast statement
}

func main() {
	callers := flag.Int("callers", 64, "concurrent callers")
	rounds := flag.Int("rounds", 3, "rounds (each runs every configuration)")
	duration := flag.Duration("duration", 3*time.Second, "measured time per configuration per round")
	imageBytes := flag.Int("image", 1024, "bytes of execution image written by each commit")
	server := flag.String("server", pgtest.ServerURL(), "URL of the PostgreSQL server (a database on it is created per round)")
	only := flag.String("configs", "", "comma-separated configurations to run (default: all)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the run to this file")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	if *callers < 1 || *rounds < 1 || *duration <= 0 {
		log.Fatal("pgbench: -callers, -rounds and -duration must be positive")
	}
	run := configs
	if *only != "" {
		run = nil
		for _, name := range strings.Split(*only, ",") {
			i := slices.IndexFunc(configs, func(c config) bool { return c.name == name })
			if i < 0 {
				log.Fatalf("pgbench: unknown configuration %q", name)
			}
			run = append(run, configs[i])
		}
	}

	results := map[string][]result{}
	for r := range *rounds {
		ctx := context.Background()
		url, drop, err := pgtest.CreateDatabase(ctx, *server)
		if err != nil {
			log.Fatal(err)
		}
		for i := range run {
			c := run[(i+r)%len(run)]
			res, err := measure(ctx, url, c, *callers, *duration, *imageBytes)
			if err != nil {
				drop()
				log.Fatalf("pgbench: %s: %v", c.name, err)
			}
			results[c.name] = append(results[c.name], res)
		}
		if err := drop(); err != nil {
			log.Fatal(err)
		}
	}

	out := map[string]any{
		"callers": *callers, "rounds": *rounds, "duration_s": duration.Seconds(), "image_bytes": *imageBytes,
		"cpus": runtime.NumCPU(),
	}
	for _, c := range run {
		rs := results[c.name]
		med := func(f func(result) float64) float64 {
			v := make([]float64, len(rs))
			for i, r := range rs {
				v[i] = f(r)
			}
			slices.Sort(v)
			return v[len(v)/2]
		}
		perRound := make([]float64, len(rs))
		for i, r := range rs {
			perRound[i] = r.CommitsPerSec
		}
		out[c.name] = map[string]any{
			"commits_per_s": med(func(r result) float64 { return r.CommitsPerSec }),
			"mean_batch":    med(func(r result) float64 { return r.MeanBatch }),
			"p50_ms":        med(func(r result) float64 { return r.P50Ms }),
			"p99_ms":        med(func(r result) float64 { return r.P99Ms }),
			"fast_share":    med(func(r result) float64 { return r.FastShare }),
			"rounds":        perRound,
		}
	}
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
}

// measure runs one configuration on the database at url for d.
func measure(ctx context.Context, url string, c config, callers int, d time.Duration, imageBytes int) (result, error) {
	s, err := postgres.Open(ctx, url, c.opts...)
	if err != nil {
		return result{}, err
	}
	defer s.Close()
	ins, err := benchload.Insert(ctx, s, callers, imageBytes)
	if err != nil {
		return result{}, err
	}
	before := s.Stats()
	m, err := benchload.Update(ctx, s, ins, d)
	if err != nil {
		return result{}, err
	}
	after := s.Stats()
	res := result{CommitsPerSec: round(float64(m.Commits) / m.Elapsed.Seconds())}
	if batches := after.Batches - before.Batches; batches > 0 {
		res.MeanBatch = round(float64(after.Commits-before.Commits) / float64(batches))
	}
	if commits := after.Commits - before.Commits; commits > 0 {
		res.FastShare = round(float64(after.Fast-before.Fast) / float64(commits))
	}
	if len(m.Latencies) > 0 {
		res.P50Ms = round(float64(m.Percentile(50)) / 1e6)
		res.P99Ms = round(float64(m.Percentile(99)) / 1e6)
	}
	return res, nil
}

func round(v float64) float64 { return float64(int64(v*100+0.5)) / 100 }
