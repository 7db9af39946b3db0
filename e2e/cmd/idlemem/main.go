// Command idlemem measures what waiting instances cost the server's Go heap (an instance that
// waits is persisted and unloaded after --unload-after, README.md and DESIGN-NOTES.md "Host
// decisions"; an unloaded, unreferenced instance should cost no memory). It starts wimp-server
// with --unload-after 0 on a fresh database, reads the live heap, creates N ExpenseApproval
// instances (each ends up waiting on its Review bookmark with a 240h timer) with concurrent
// workers, reads the live heap again and prints one JSON line:
//
//	go run ./e2e/cmd/idlemem [-n 100000] [-workers 32] [-server PATH]
//
//	{"instances":100000,"baseline_heap_bytes":...,"after_heap_bytes":...,"per_instance_bytes":...,"loaded_instances":0,...}
//
// How the heap is read: the server's /metrics exposes go_gc_heap_live_bytes (runtime/metrics
// /gc/heap/live:bytes: what the last completed GC marked reachable) and go_gc_cycles_total. The
// server cannot be told to collect from outside, so idlemem sends it cheap read requests (their
// garbage drives the GC) until at least two cycles have completed since the moment of interest,
// then reads the live heap; it does that three times and takes the median. Both readings come from
// the same process, so the difference is what the N instances left behind. Without -server the
// server is built from this module with `go build`.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/hosting"
)

type summary struct {
	Instances         int     `json:"instances"`
	BaselineHeapBytes int64   `json:"baseline_heap_bytes"`
	AfterHeapBytes    int64   `json:"after_heap_bytes"`
	PerInstanceBytes  float64 `json:"per_instance_bytes"`
	LoadedInstances   int64   `json:"loaded_instances"`
	BaselineGoroutine int64   `json:"baseline_goroutines"`
	AfterGoroutines   int64   `json:"after_goroutines"`
	BaselineRSSBytes  int64   `json:"baseline_rss_bytes"`
	AfterRSSBytes     int64   `json:"after_rss_bytes"`
	DBBytes           int64   `json:"db_bytes"`
	CreateSeconds     float64 `json:"create_seconds"`
	CreatesPerSecond  float64 `json:"creates_per_second"`
	Workers           int     `json:"workers"`
	Errors            int64   `json:"errors"`
}

func main() {
	n := flag.Int("n", 100000, "instances to create")
	workers := flag.Int("workers", 32, "concurrent creating clients")
	serverBin := flag.String("server", "", "wimp-server binary (default: go build it from this module)")
	flag.Parse()
	if err := run(*n, *workers, *serverBin); err != nil {
		fmt.Fprintln(os.Stderr, "idlemem:", err)
		os.Exit(1)
	}
}

func run(n, workers int, serverBin string) error {
	dir, err := os.MkdirTemp("", "wimp-idlemem-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if serverBin == "" {
		serverBin = filepath.Join(dir, "wimp-server")
		cmd := exec.Command("go", "build", "-o", serverBin, "github.com/wimp-project/wimp/cmd/wimp-server")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("building wimp-server: %w", err)
		}
	}
	db := filepath.Join(dir, "wimp.db")
	srv, base, err := start(serverBin, db)
	if err != nil {
		return err
	}
	defer func() {
		_ = srv.Process.Signal(syscall.SIGTERM)
		_ = srv.Wait()
	}()
	hc := hosting.NewClient(base + "/WorkflowHosting")
	ctx := context.Background()

	baseline, err := settledHeap(ctx, base, hc)
	if err != nil {
		return err
	}
	s := summary{Instances: n, Workers: workers, BaselineHeapBytes: baseline.live, BaselineGoroutine: baseline.goroutines,
		BaselineRSSBytes: rss(srv.Process.Pid)}

	var next, errs atomic.Int64
	var firstErr atomic.Value
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				_, err := hc.Create(ctx, host.CreateRequest{Definition: "ExpenseApproval",
					Inputs: map[string]any{"amount": float64(i % 2000), "submitter": "idlemem"}})
				if err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
				if i%10000 == 0 {
					el := time.Since(start)
					fmt.Fprintf(os.Stderr, "idlemem: %d created in %v (%.0f/s)\n", i, el.Round(time.Second), float64(i)/el.Seconds())
				}
			}
		}()
	}
	wg.Wait()
	s.CreateSeconds = time.Since(start).Seconds()
	s.CreatesPerSecond = float64(n) / s.CreateSeconds
	s.Errors = errs.Load()
	if e := firstErr.Load(); e != nil {
		fmt.Fprintln(os.Stderr, "idlemem: first create error:", e)
	}

	after, err := settledHeap(ctx, base, hc)
	if err != nil {
		return err
	}
	s.AfterHeapBytes, s.LoadedInstances, s.AfterGoroutines = after.live, after.loaded, after.goroutines
	s.AfterRSSBytes = rss(srv.Process.Pid)
	if n > 0 {
		s.PerInstanceBytes = float64(s.AfterHeapBytes-s.BaselineHeapBytes) / float64(n)
	}
	for _, suffix := range []string{"", "-wal"} {
		if fi, err := os.Stat(db + suffix); err == nil {
			s.DBBytes += fi.Size()
		}
	}
	out, _ := json.Marshal(s)
	fmt.Println(string(out))
	return nil
}

var listening = regexp.MustCompile(`msg=listening url="?(http://[^\s"]+)"?`)

func start(bin, db string) (*exec.Cmd, string, error) {
	cmd := exec.Command(bin, "--listen", "127.0.0.1:0", "--db", db, "--unload-after", "0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			if m := listening.FindStringSubmatch(line); m != nil {
				urlc <- m[1]
				continue
			}
			fmt.Fprintln(os.Stderr, "wimp-server:", line)
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	select {
	case u := <-urlc:
		return cmd, strings.TrimRight(u, "/"), nil
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		return nil, "", fmt.Errorf("wimp-server did not start listening")
	}
}

type reading struct {
	live, cycles, loaded, goroutines int64
}

// scrape reads the gauges idlemem needs from /metrics.
func scrape(base string) (reading, error) {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return reading{}, err
	}
	defer resp.Body.Close()
	var r reading
	found := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		v, err := strconv.ParseFloat(val, 64)
		if err != nil {
			continue
		}
		found[name] = true
		switch name {
		case "go_gc_heap_live_bytes":
			r.live = int64(v)
		case "go_gc_cycles_total":
			r.cycles = int64(v)
		case "wimp_instances_loaded":
			r.loaded = int64(v)
		case "go_goroutines":
			r.goroutines = int64(v)
		}
	}
	for _, k := range []string{"go_gc_heap_live_bytes", "go_gc_cycles_total", "wimp_instances_loaded"} {
		if !found[k] {
			return r, fmt.Errorf("/metrics has no %s (a server without the Go memory gauges?)", k)
		}
	}
	return r, sc.Err()
}

// settledHeap drives GC cycles with read-only traffic and returns the median of three live-heap
// readings, each taken after at least two cycles completed since the previous reading.
func settledHeap(ctx context.Context, base string, hc *hosting.Client) (reading, error) {
	var rs []reading
	for len(rs) < 3 {
		r0, err := scrape(base)
		if err != nil {
			return reading{}, err
		}
		deadline := time.Now().Add(2 * time.Minute)
		for {
			// ListInstances of 50 rows makes a few hundred KiB of garbage per call.
			if _, err := hc.ListInstances(ctx, "", 50); err != nil {
				return reading{}, err
			}
			r, err := scrape(base)
			if err != nil {
				return reading{}, err
			}
			if r.cycles >= r0.cycles+2 {
				rs = append(rs, r)
				break
			}
			if time.Now().After(deadline) {
				return reading{}, fmt.Errorf("no GC cycle completed in 2 minutes of read traffic")
			}
		}
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].live < rs[j].live })
	return rs[1], nil
}

// rss is the server's resident set size from /proc (0 where there is no /proc).
func rss(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}
