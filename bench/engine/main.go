// Command engine compares wimp's workflow engine end to end with github.com/cschleiden/go-workflows
// on the same small workflow, in the same run, and prints human-readable progress on stderr and
// one JSON summary line on stdout:
//
//	cd bench/engine && go run . [-drivers 16] [-rounds 3] [-duration 10s] [-server BIN]
//
// The workflow: wait for an outside event, then a 10 ms durable timer, then complete. Each of
// -drivers concurrent drivers loops for -duration: create an instance, deliver its event, wait
// until it has completed, check the outcome. Measured: instances completed per second (an
// instance counts when its completion was seen before the end of the round), the latency from
// create to completion seen (p50, p99), how many completion polls each instance took, the CPU
// both processes spent per instance and the bytes the engine's process wrote to storage per
// instance (/proc/PID/io write_bytes: the WAL and its checkpoints).
//
//   - wimp: wimp-server (built from this repository, ../.., unless -server names a binary) as a
//     child process on a loopback port, on a fresh SQLite database in a temporary directory with
//     its defaults (synchronous=FULL, WAL, group commit), the definition below loaded with
//     --definitions. The drivers speak SOAP 1.1 to /WorkflowHosting with wimp's hosting client
//     over keep-alive connections: Create, ResumeBookmark "go" with a number as payload
//     (durable, run to idle, before it returns), then GetInstance until the instance is
//     Completed. Checked: completion Closed and the Receive's variable equal to the payload;
//     after the round, the server's own CountInstances must find exactly the instances the
//     drivers finished, all Completed Closed.
//   - the peer: go-workflows v1.2.0 (the version this machine's module proxy serves; v1.4.2 is
//     not), in process with its client and worker, on its SQLite backend on a fresh file in the
//     same directory, wrapped in its monoprocess backend (its own advice for a worker in the
//     process of its backend: tasks are handed to the worker by channel rather than found by
//     polling every 200 ms). The backend puts the file in WAL mode itself and has no option
//     for synchronous, but passes the path through into its DSN (file:PATH), so the path is
//     given with "?_pragma=synchronous(FULL)" and the run checks, on the backend's own
//     connection, that synchronous is 2 (FULL) and journal_mode wal (FULL is also the driver's
//     default; the parameter makes it explicit). The driver is modernc.org/sqlite v1.61.1, the
//     version wimp requires (go-workflows v1.2.0 asks for v1.27.0). It serializes everything
//     on that one connection (SetMaxOpenConns(1)): every write is its own fsync'd transaction.
//     The workflow waits on a signal channel "go", then workflow.ScheduleTimer 10 ms, and
//     returns the signal's value; the drivers call CreateWorkflowInstance, SignalWorkflow and
//     client.GetWorkflowResult, which must return that value without error.
//
// Completion: each side's own way of waiting for a result. go-workflows' GetWorkflowResult
// polls the instance's state with an exponential back-off (at once, then about 1 ms, ×1.5,
// ±50 % jitter; github.com/cenkalti/backoff), a query on its connection each time. The wimp
// drivers (-completion wait, the default) call GetInstance with waitSeconds 30, which the
// server answers when the instance completes: one request. With -completion poll they instead
// poll GetInstance over SOAP on exactly go-workflows' schedule (the same back-off, same
// parameters), as a client of a server without the wait would.
//
// Each round runs both engines for -duration on fresh databases, alternating which goes first;
// the summary gives each side's figures per round and their medians, and the ratio of the
// medians (wimp over go-workflows; the project's target is ≥ 4). Every round also measures the
// disk's own fsync rate (4 KiB write + fsync in the same directory) for comparison.
//
// -cpuprofile FILE profiles this process: the drivers, and go-workflows with its worker.
// wimp-server has no profiling flag; `perf record -g -p PID` of the child profiles it (Go keeps
// frame pointers).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/wimp-project/wimp/bench/internal/report"
)

// definition is the wimp workflow: Receive "go" (its payload into got), a 10 ms Delay, done.
const definition = `<Workflow Name="EngineBench" Package="bench" Version="1.0.0.0" Tracking="All">
  <Variables><Variable Name="got" Type="Number"/></Variables>
  <Sequence Id="main">
    <Receive Id="wait" Bookmark="go" Result="got"/>
    <Delay Id="nap" Duration="10ms"/>
  </Sequence>
</Workflow>
`

// result is one engine's run of one round.
type result struct {
	completed        int     // completions seen before the end of the round
	finished         int     // every instance the drivers took to completion, in-flight ones too
	perSec           float64 // completed / duration
	p50Ms, p99Ms     float64 // create → completion seen
	pollsPerInstance float64 // completion polls per finished instance
	cpuMsPerInstance float64 // CPU of every process involved, per finished instance
	engineCPUMs      float64 // wimp: the server's share of it (the drivers' process is the rest)
	bytesPerInstance float64 // bytes the engine's process wrote to storage, per finished instance
	cpuBusy          float64 // CPU seconds spent per second of the round (at most the cores)
	otherBusy        float64 // the same for every other process on the machine
}

func main() {
	drivers := flag.Int("drivers", 16, "concurrent drivers per engine")
	rounds := flag.Int("rounds", 3, "rounds (each runs both engines, alternating which goes first)")
	duration := flag.Duration("duration", 10*time.Second, "how long each engine runs in each round")
	serverBin := flag.String("server", "", "the wimp-server binary (default: built from this repository)")
	dir := flag.String("dir", "", "directory for the databases and the fsync probe (default: a temporary directory)")
	fsyncTime := flag.Duration("fsync-time", time.Second, "how long each round measures the disk's fsync")
	completion := flag.String("completion", "wait", "how wimp's drivers learn of a completion: wait (GetInstance with waitSeconds, answered at the completion) or poll (GetInstance on go-workflows' polling schedule)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of this process (the drivers; go-workflows with its worker) to this file")
	flag.Parse()
	stopProfile, err := report.Profile(*cpuProfile)
	if err != nil {
		fail(err)
	}
	defer stopProfile()
	if *completion != "wait" && *completion != "poll" {
		fail(fmt.Errorf("-completion is wait or poll, not %q", *completion))
	}
	if *drivers < 1 || *rounds < 1 || *duration <= 0 {
		fail(fmt.Errorf("-drivers, -rounds and -duration must be positive"))
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "engine-")
		if err != nil {
			fail(err)
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	defs := filepath.Join(*dir, "definitions")
	if err := os.MkdirAll(defs, 0o755); err != nil {
		fail(err)
	}
	if err := os.WriteFile(filepath.Join(defs, "EngineBench.xml"), []byte(definition), 0o644); err != nil {
		fail(err)
	}
	bin := *serverBin
	if bin == "" {
		bin = filepath.Join(*dir, "wimp-server")
		report.Progress("building wimp-server")
		build := exec.Command("go", "build", "-o", bin, "./cmd/wimp-server")
		build.Dir = filepath.Join("..", "..") // the repository root: this module lives in bench/engine
		if b, err := build.CombinedOutput(); err != nil {
			fail(fmt.Errorf("go build wimp-server (run from bench/engine, or give -server): %v\n%s", err, b))
		}
	}

	names := [2]string{"wimp", "go-workflows"}
	var res [2][]result
	var fsyncs []report.FsyncProbe
	for r := range *rounds {
		f, err := report.ProbeFsync(filepath.Join(*dir, "fsync-probe"), *fsyncTime)
		if err != nil {
			fail(err)
		}
		fsyncs = append(fsyncs, f)
		report.Progress("round %d/%d: disk fsync %.0f/s", r+1, *rounds, f.PerSec)
		order := []int{0, 1}
		if r%2 == 1 {
			order = []int{1, 0}
		}
		for _, which := range order {
			var x result
			m0, err := machineBusy()
			if err != nil {
				fail(err)
			}
			start := time.Now()
			db := filepath.Join(*dir, fmt.Sprintf("r%d-%s.db", r, names[which]))
			if which == 0 {
				x, err = runWimp(bin, db, defs, *drivers, *duration, *completion == "wait")
			} else {
				x, err = runPeer(db, *drivers, *duration)
			}
			if err != nil {
				fail(fmt.Errorf("round %d, %s: %w", r+1, names[which], err))
			}
			m1, err := machineBusy()
			if err != nil {
				fail(err)
			}
			x.otherBusy = max(0, (m1-m0).Seconds()/time.Since(start).Seconds()-x.cpuBusy)
			for _, suffix := range []string{"", "-wal", "-shm"} {
				_ = os.Remove(db + suffix)
			}
			extra := ""
			if which == 0 {
				extra = fmt.Sprintf(" (server %.2f)", x.engineCPUMs)
			}
			report.Progress("  %-12s %6d completed: %7.1f/s  p50 %6.2f ms  p99 %6.2f ms  %.1f polls, %.2f CPU ms%s, %.0f bytes written per instance; CPU %.2f cores (other work %.2f)",
				names[which], x.completed, x.perSec, x.p50Ms, x.p99Ms, x.pollsPerInstance, x.cpuMsPerInstance, extra, x.bytesPerInstance, x.cpuBusy, x.otherBusy)
			res[which] = append(res[which], x)
		}
	}

	side := func(rs []result, wimp bool) map[string]any {
		m := map[string]any{
			"completed_per_s":        report.Median(rs, func(x result) float64 { return x.perSec }),
			"rounds_completed_per_s": report.Each(rs, func(x result) float64 { return x.perSec }),
			"p50_ms":                 report.Median(rs, func(x result) float64 { return x.p50Ms }),
			"p99_ms":                 report.Median(rs, func(x result) float64 { return x.p99Ms }),
			"polls_per_instance":     report.Median(rs, func(x result) float64 { return x.pollsPerInstance }),
			"cpu_ms_per_instance":    report.Median(rs, func(x result) float64 { return x.cpuMsPerInstance }),
			"bytes_written_per_instance": report.Median(rs, func(x result) float64 {
				return x.bytesPerInstance
			}),
			"cpu_cores_busy":        report.Median(rs, func(x result) float64 { return x.cpuBusy }),
			"rounds_cpu_cores_busy": report.Each(rs, func(x result) float64 { return x.cpuBusy }),
			// CPU that other processes on the machine took meanwhile, in cores
			"rounds_other_cpu_cores": report.Each(rs, func(x result) float64 { return x.otherBusy }),
		}
		if wimp {
			m["server_cpu_ms_per_instance"] = report.Median(rs, func(x result) float64 { return x.engineCPUMs })
		}
		return m
	}
	w := report.Median(res[0], func(x result) float64 { return x.perSec })
	p := report.Median(res[1], func(x result) float64 { return x.perSec })
	ratios := make([]float64, *rounds)
	for i := range ratios {
		ratios[i] = report.Round(res[0][i].perSec / res[1][i].perSec)
	}
	out := map[string]any{
		"drivers": *drivers, "rounds": *rounds, "duration_s": duration.Seconds(), "timer_ms": 10, "wimp_completion": *completion,
		"cpus": runtime.NumCPU(), "gomaxprocs": runtime.GOMAXPROCS(0), "go": runtime.Version(),
		"go_workflows_version": depVersion("github.com/cschleiden/go-workflows"), "sqlite_driver": depVersion("modernc.org/sqlite"),
		"fsync_per_s": report.Median(fsyncs, func(f report.FsyncProbe) float64 { return f.PerSec }),
		"wimp":        side(res[0], true), "go_workflows": side(res[1], false),
		"ratio": report.Round(w / p), "rounds_ratio": ratios,
	}
	report.Progress("median: wimp %.1f/s, go-workflows %.1f/s, ratio %.2f", w, p, w/p)
	_ = json.NewEncoder(os.Stdout).Encode(out)
}

// depVersion is the version of a module this program was built with.
func depVersion(path string) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == path {
				if d.Replace != nil {
					return d.Version + " => " + d.Replace.Path + " " + d.Replace.Version
				}
				return d.Version
			}
		}
	}
	return "unknown"
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "engine:", err)
	os.Exit(1)
}
