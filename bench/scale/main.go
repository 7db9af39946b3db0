// Command scale measures wimp with many instances, against a baseline in the same run, and
// prints human-readable progress on stderr and one JSON summary line on stdout:
//
//	go run ./bench/scale [-mode all|creation|timers] [-n 100000] [-timers 100000] [-rounds 3] [-dir D]
//
// Creation (-n, documented up to -n 1000000): wimp-server (built from this module unless
// -server names a binary) on a fresh database with its defaults (synchronous=FULL,
// --unload-after 1m, --max-loaded 10000); -clients concurrent hosting clients create -n
// ExpenseApproval instances over SOAP, each left waiting on its Review bookmark and a 240 h
// timer. Measured: instances created per second, the server's peak resident memory (VmHWM), the
// database bytes per instance after a clean stop, and the p50 of a point operation (MS-WFIM
// Suspend or Unsuspend of a random stored instance, one client) once 1,000 instances are stored
// and again once all -n are. The baseline is the same server with
// --max-loaded 1000000000 (no memory budget: every instance stays loaded for the 1-minute unload
// delay, as before the budget existed).
//
// Timers falling due together: -timers instances of a one-Delay workflow (a 1 h Delay) are
// created and left waiting in a SQLite store (synchronous=FULL), the host is closed, its clock
// moved two hours on, and a new host started on the same store — a server coming back after a
// downtime, every timer due at once. Measured: from the new host's Start until every instance
// has completed (each timer fired exactly once: every instance Completed Closed, none left
// Active, one Completed tracking record each), as firings per second, with the store's commits
// and mean batch. The baseline is the same with the timer loop firing one instance at a time
// (host.Config.TimerConcurrency 1, what the loop did before it fired claimed instances
// concurrently); each round runs both, alternating which goes first, on fresh databases.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wimp-project/wimp/bench/internal/report"
	"github.com/wimp-project/wimp/engine"
	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/store/sqlite"
	"github.com/wimp-project/wimp/workflow"
)

// nap waits on one durable timer and completes.
const nap = `<Workflow Name="Nap" Package="bench" Version="1.0.0.0">
  <Sequence Id="main"><Delay Id="nap" Duration="1h"/></Sequence>
</Workflow>`

func main() {
	mode := flag.String("mode", "all", "all, creation or timers")
	n := flag.Int("n", 100000, "creation: waiting instances to create over SOAP")
	clients := flag.Int("clients", 16, "creation: concurrent SOAP clients")
	serverBin := flag.String("server", "", "creation: the wimp-server binary (default: built from this module)")
	timers := flag.Int("timers", 100000, "instances whose timers fall due together")
	rounds := flag.Int("rounds", 3, "rounds (each measures both configurations)")
	dir := flag.String("dir", "", "directory for the databases (default: a temporary directory)")
	creators := flag.Int("creators", 64, "concurrent creators while filling the store")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file (go tool pprof)")
	flag.Parse()
	stop, err := report.Profile(*cpuProfile)
	if err != nil {
		fail(err)
	}
	defer stop()
	if *timers < 1 || *rounds < 1 || *creators < 1 || *n < 1 || *clients < 1 {
		fail(fmt.Errorf("-n, -clients, -timers, -rounds and -creators must be positive"))
	}
	if *mode != "all" && *mode != "creation" && *mode != "timers" {
		fail(fmt.Errorf("-mode must be all, creation or timers, not %q", *mode))
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "scale-")
		if err != nil {
			fail(err)
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	out := map[string]any{"rounds": *rounds, "cpus": runtime.NumCPU()}
	if *mode != "timers" {
		out["creation"] = creation(*serverBin, *dir, *n, *clients, *rounds)
	}
	if *mode != "creation" {
		out["timers"] = dueTimers(*dir, *timers, *creators, *rounds)
	}
	_ = json.NewEncoder(os.Stdout).Encode(out)
}

// creation runs createWaiting with the default memory budget and without one, rounds times.
func creation(bin, dir string, n, clients, rounds int) map[string]any {
	if bin == "" {
		bin = filepath.Join(dir, "wimp-server")
		report.Progress("building wimp-server")
		if b, err := exec.Command("go", "build", "-o", bin, "github.com/wimp-project/wimp/cmd/wimp-server").CombinedOutput(); err != nil {
			fail(fmt.Errorf("go build wimp-server: %v\n%s", err, b))
		}
	}
	flags := [2][]string{nil, {"--max-loaded", "1000000000"}}
	names := [2]string{"--max-loaded default", "no memory budget"}
	var res [2][]creationResult
	for r := range rounds {
		for _, which := range order(r) {
			c, err := createWaiting(bin, dir, n, clients, flags[which]...)
			if err != nil {
				fail(err)
			}
			report.Progress("round %d/%d, %s: %d instances created at %.0f/s, peak RSS %.0f MB, %.0f database bytes per instance; point operation p50 %.2f ms at %d instances, %.2f ms at %d",
				r+1, rounds, names[which], n, c.perSec, float64(c.peakRSS)/(1<<20), c.dbBytesPerIns,
				ms(c.pointSmallP50), min(pointAt, n), ms(c.pointP50), n)
			res[which] = append(res[which], c)
		}
	}
	perSec := func(c creationResult) float64 { return c.perSec }
	rss := func(c creationResult) float64 { return float64(c.peakRSS) / (1 << 20) }
	return map[string]any{"instances": n, "clients": clients, "max_loaded": host.DefaultMaxLoaded,
		"created_per_s": report.Median(res[0], perSec), "baseline_created_per_s": report.Median(res[1], perSec),
		"peak_rss_mb": report.Median(res[0], rss), "baseline_peak_rss_mb": report.Median(res[1], rss),
		"db_bytes_per_instance":          report.Median(res[0], func(c creationResult) float64 { return c.dbBytesPerIns }),
		"baseline_db_bytes_per_instance": report.Median(res[1], func(c creationResult) float64 { return c.dbBytesPerIns }),
		// With the default budget: a point operation's p50 with 1,000 instances stored and with n.
		"point_p50_ms_at_1000": report.Median(res[0], func(c creationResult) float64 { return ms(c.pointSmallP50) }),
		"point_p50_ms_at_n":    report.Median(res[0], func(c creationResult) float64 { return ms(c.pointP50) }),
		"point_ratio": report.Round(report.Median(res[0], func(c creationResult) float64 { return ms(c.pointP50) }) /
			report.Median(res[0], func(c creationResult) float64 { return ms(c.pointSmallP50) })),
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// order alternates which configuration of a round goes first.
func order(round int) []int {
	if round%2 == 1 {
		return []int{1, 0}
	}
	return []int{0, 1}
}

// dueTimers runs dueTogether with the default timer concurrency and with 1, rounds times.
func dueTimers(dir string, timers, creators, rounds int) map[string]any {
	def, err := engine.ParseDefinition("nap.xml", []byte(nap))
	if err != nil {
		fail(err)
	}
	concurrency := [2]int{host.DefaultTimerConcurrency, 1}
	var res [2][]timerResult
	for r := range rounds {
		for _, which := range order(r) {
			path := filepath.Join(dir, fmt.Sprintf("timers-r%d-%d.db", r, which))
			t, err := dueTogether(path, def, timers, creators, concurrency[which])
			if err != nil {
				fail(err)
			}
			_ = os.Remove(path)
			report.Progress("round %d/%d, timer concurrency %2d: %d timers fired in %.2f s: %.0f/s (%d commits, mean batch %.1f; created at %.0f/s)",
				r+1, rounds, concurrency[which], timers, t.seconds, t.perSec, t.commits, t.meanBatch, t.createdPerSec)
			res[which] = append(res[which], t)
		}
	}
	perSec := func(t timerResult) float64 { return t.perSec }
	return map[string]any{
		"timers": timers, "timer_concurrency": concurrency[0],
		"firings_per_s": report.Median(res[0], perSec), "baseline_firings_per_s": report.Median(res[1], perSec),
		"ratio":                         report.Round(report.Median(res[0], perSec) / report.Median(res[1], perSec)),
		"mean_batch":                    report.Median(res[0], func(t timerResult) float64 { return t.meanBatch }),
		"baseline_mean_batch":           report.Median(res[1], func(t timerResult) float64 { return t.meanBatch }),
		"rounds_firings_per_s":          report.Each(res[0], perSec),
		"baseline_rounds_firings_per_s": report.Each(res[1], perSec),
	}
}

type timerResult struct {
	seconds, perSec, meanBatch, createdPerSec float64
	commits                                   int64
}

// dueTogether fills a fresh store with n waiting Nap instances, then measures a new host with
// the given timer concurrency firing them all, two hours later.
func dueTogether(path string, def *engine.Definition, n, creators, concurrency int) (timerResult, error) {
	ctx := context.Background()
	var batches, requests atomic.Int64
	st, err := sqlite.Open(ctx, path, sqlite.WithObserver(func(b store.BatchInfo) {
		if b.Err == nil && b.Requests > 0 {
			batches.Add(1)
			requests.Add(int64(b.Requests))
		}
	}))
	if err != nil {
		return timerResult{}, err
	}
	defer st.Close()
	defs := engine.NewRegistry()
	if err := defs.Add(def); err != nil {
		return timerResult{}, err
	}
	var offset atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := host.Config{Store: st, Definitions: defs, Clock: clock, Logger: log, UnloadAfter: -1}

	filler, err := host.New(cfg)
	if err != nil {
		return timerResult{}, err
	}
	if err := filler.Start(ctx); err != nil {
		return timerResult{}, err
	}
	start := time.Now()
	var next atomic.Int64
	errs := make(chan error, creators)
	var wg sync.WaitGroup
	for range creators {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				if _, err := filler.Create(ctx, host.CreateRequest{Definition: "Nap"}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	created := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return timerResult{}, fmt.Errorf("creating: %w", err)
	}
	if err := filler.Close(); err != nil {
		return timerResult{}, err
	}

	offset.Store(int64(2 * time.Hour))
	cfg.TimerConcurrency = concurrency
	h, err := host.New(cfg)
	if err != nil {
		return timerResult{}, err
	}
	defer h.Close()
	b0, r0 := batches.Load(), requests.Load()
	start = time.Now()
	if err := h.Start(ctx); err != nil {
		return timerResult{}, err
	}
	deadline := start.Add(30 * time.Minute)
	for {
		c, err := h.Count(ctx, host.Filter{State: workflow.Completed}, host.GroupNone)
		if err != nil {
			return timerResult{}, err
		}
		if c.Total == int64(n) {
			break
		}
		if time.Now().After(deadline) {
			return timerResult{}, fmt.Errorf("after 30 min only %d of %d timers have fired", c.Total, n)
		}
		time.Sleep(20 * time.Millisecond) // polling for the end; the figure's resolution
	}
	elapsed := time.Since(start)
	res := timerResult{seconds: elapsed.Seconds(), perSec: float64(n) / elapsed.Seconds(),
		commits: batches.Load() - b0, createdPerSec: float64(n) / created.Seconds()}
	if res.commits > 0 {
		res.meanBatch = float64(requests.Load()-r0) / float64(res.commits)
	}
	return res, check(ctx, h, n)
}

// check verifies exactly-once firing: n instances, all Completed Closed, each with one
// Completed tracking record.
func check(ctx context.Context, h *host.Host, n int) error {
	c, err := h.Count(ctx, host.Filter{}, host.GroupByState)
	if err != nil {
		return err
	}
	closed, err := h.Count(ctx, host.Filter{State: workflow.Completed, Completion: workflow.Closed}, host.GroupNone)
	if err != nil {
		return err
	}
	if c.Total != int64(n) || closed.Total != int64(n) {
		return fmt.Errorf("after the firing: %d instances (%+v), %d Closed; want %d, all Closed", c.Total, c.Groups, closed.Total, n)
	}
	token := ""
	for {
		page, err := h.Query(ctx, host.QueryRequest{PageSize: host.MaxPageSize, PageToken: token})
		if err != nil {
			return err
		}
		for _, in := range page.Instances {
			recs, err := h.Records(ctx, in.ID, 0)
			if err != nil {
				return err
			}
			completed := 0
			for _, r := range recs {
				if r.Kind == workflow.InstanceRecord && r.Name == "Completed" {
					completed++
				}
			}
			if completed != 1 {
				return fmt.Errorf("instance %s has %d Completed records, want 1", in.ID, completed)
			}
		}
		if page.NextPageToken == "" {
			return nil
		}
		token = page.NextPageToken
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "scale:", err)
	os.Exit(1)
}
