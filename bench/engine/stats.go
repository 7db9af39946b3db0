package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wimp-project/wimp/bench/internal/report"

	"github.com/cenkalti/backoff/v4"
)

// tally collects what the drivers of one run saw.
type tally struct {
	mu        sync.Mutex
	latencies []time.Duration // of the completions counted
	finished  int
}

func (t *tally) add(latency time.Duration, counted bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.finished++
	if counted {
		t.latencies = append(t.latencies, latency)
	}
}

// result fills the throughput and latency figures of a run of d.
func (t *tally) result(d time.Duration, polls int64) result {
	pct := report.Percentiles(t.latencies)
	r := result{completed: len(t.latencies), finished: t.finished, perSec: float64(len(t.latencies)) / d.Seconds(),
		p50Ms: pct(0.5), p99Ms: pct(0.99)}
	if t.finished > 0 {
		r.pollsPerInstance = float64(polls) / float64(t.finished)
	}
	return r
}

// usage is a process's CPU time and bytes written to storage so far.
type usage struct {
	cpu     time.Duration
	written int64
}

// clockTick is USER_HZ, the unit of /proc/PID/stat's utime and stime (100 on Linux).
const clockTick = 10 * time.Millisecond

// readUsage reads pid's ("self" for this process) /proc stat and io.
func readUsage(pid string) (usage, error) {
	var u usage
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return u, err
	}
	// The fields after the command name (which is in parentheses and may hold spaces):
	// state is field 3, utime 14, stime 15.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return u, fmt.Errorf("/proc/%s/stat: too few fields", pid)
	}
	for _, x := range f[11:13] {
		t, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			return u, fmt.Errorf("/proc/%s/stat: %w", pid, err)
		}
		u.cpu += time.Duration(t) * clockTick
	}
	b, err = os.ReadFile("/proc/" + pid + "/io")
	if err != nil {
		return u, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "write_bytes:"); ok {
			u.written, err = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return u, err
		}
	}
	return u, fmt.Errorf("no write_bytes in /proc/%s/io", pid)
}

// completionBackOff is the schedule go-workflows' client (v1.2.0, WaitForWorkflowInstance) polls
// an instance's state on; the wimp drivers poll GetInstance on the same one. Its ticker ticks at
// once, then after about 1 ms, ×1.5 each time (±50 % jitter), up to 1 s between polls.
func completionBackOff(timeout time.Duration) *backoff.ExponentialBackOff {
	b := &backoff.ExponentialBackOff{
		InitialInterval:     time.Millisecond,
		MaxInterval:         time.Second,
		Multiplier:          1.5,
		RandomizationFactor: 0.5,
		MaxElapsedTime:      timeout,
		Stop:                backoff.Stop,
		Clock:               backoff.SystemClock,
	}
	b.Reset()
	return b
}

// machineBusy is the CPU time every process on the machine has spent so far (/proc/stat: all
// but idle and iowait), to tell how much of it other work took during a run.
func machineBusy() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	var busy int64
	for i, x := range f[1:] {
		if i == 3 || i == 4 || i >= 7 { // idle, iowait; steal, guest (guest is counted in user)
			continue
		}
		t, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: %w", err)
		}
		busy += t
	}
	return time.Duration(busy) * clockTick, nil
}

// drive runs drivers goroutines that each take instances through one (its argument a number
// unique in the run) until d has passed, and returns what they saw, how long they ran, and the
// first error one met (which ends that driver).
func drive(drivers int, d time.Duration, one func(n int64) error) (*tally, time.Duration, error) {
	t := &tally{}
	var seq atomic.Int64
	errs := make(chan error, drivers)
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for range drivers {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				began := time.Now()
				if err := one(seq.Add(1)); err != nil {
					errs <- err
					return
				}
				done := time.Now()
				t.add(done.Sub(began), done.Before(deadline))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	return t, elapsed, <-errs
}
