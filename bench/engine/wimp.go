package main

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wimp-project/wimp/bench/internal/child"

	"github.com/cenkalti/backoff/v4"

	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/hosting"
	"github.com/wimp-project/wimp/workflow"
)

// waitTimeout bounds how long a driver waits for one instance to complete.
const waitTimeout = 30 * time.Second

// runWimp starts wimp-server (bin) on a fresh database db with the definitions in defs and runs
// the drivers against it for d.
func runWimp(bin, db, defs string, drivers int, d time.Duration, wait bool) (result, error) {
	cmd, base, err := child.StartServer(bin, "--db", db, "--definitions", defs)
	if err != nil {
		return result{}, err
	}
	defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }()
	pid := strconv.Itoa(cmd.Process.Pid)
	hc := hosting.NewClient(base + "/WorkflowHosting")
	hc.SOAP.HTTP = &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: drivers, MaxConnsPerHost: drivers}}

	var polls atomic.Int64
	s0, err := readUsage(pid)
	if err != nil {
		return result{}, err
	}
	c0, err := readUsage("self")
	if err != nil {
		return result{}, err
	}
	t, elapsed, err := drive(drivers, d, func(n int64) error { return wimpOne(hc, n, &polls, wait) })
	if err != nil {
		return result{}, err
	}
	s1, err := readUsage(pid)
	if err != nil {
		return result{}, err
	}
	c1, err := readUsage("self")
	if err != nil {
		return result{}, err
	}
	if err := checkServerCount(hc, t.finished); err != nil {
		return result{}, err
	}
	r := t.result(d, polls.Load())
	server, total := s1.cpu-s0.cpu, s1.cpu-s0.cpu+c1.cpu-c0.cpu
	if r.finished > 0 {
		r.cpuMsPerInstance = ms(total) / float64(r.finished)
		r.engineCPUMs = ms(server) / float64(r.finished)
		r.bytesPerInstance = float64(s1.written-s0.written) / float64(r.finished)
	}
	r.cpuBusy = total.Seconds() / elapsed.Seconds()
	return r, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// wimpOne takes one instance through the workflow: Create, ResumeBookmark "go" with n, then
// until it has completed either GetInstance with waitSeconds (wait: the server answers at the
// completion) or GetInstance on go-workflows' polling schedule (!wait); checks it completed
// Closed with got == n.
func wimpOne(hc *hosting.Client, n int64, polls *atomic.Int64, wait bool) error {
	ctx := context.Background()
	id, err := hc.Create(ctx, host.CreateRequest{Definition: "EngineBench", Version: "1.0.0.0"})
	if err != nil {
		return fmt.Errorf("hosting Create: %w", err)
	}
	if err := hc.ResumeBookmark(ctx, id, "go", strconv.FormatInt(n, 10)); err != nil {
		return fmt.Errorf("hosting ResumeBookmark %s: %w", id, err)
	}
	read := func() (*hosting.Instance, error) { return hc.GetInstance(ctx, id) }
	if wait {
		read = func() (*hosting.Instance, error) { return hc.AwaitInstance(ctx, hosting.Ref{ID: id}, waitTimeout) }
	}
	ticker := backoff.NewTicker(completionBackOff(waitTimeout))
	defer ticker.Stop()
	for range ticker.C {
		inst, err := read()
		polls.Add(1)
		if err != nil {
			return fmt.Errorf("hosting GetInstance %s: %w", id, err)
		}
		switch inst.State {
		case workflow.Active:
			continue
		case workflow.Completed:
			if inst.Completion != string(workflow.Closed) {
				return fmt.Errorf("instance %s completed %s (%s%s), want Closed", id, inst.Completion, inst.CompletionException, inst.CompletionReason)
			}
			if got, ok := inst.Variables["got"].(float64); !ok || got != float64(n) {
				return fmt.Errorf("instance %s completed with got = %v, want %d", id, inst.Variables["got"], n)
			}
			return nil
		default:
			return fmt.Errorf("instance %s is %s (%s%s)", id, inst.State, inst.SuspensionException, inst.SuspensionReason)
		}
	}
	return fmt.Errorf("instance %s did not complete within %s", id, waitTimeout)
}

// checkServerCount checks the server's own count: every instance the drivers created is
// Completed Closed.
func checkServerCount(hc *hosting.Client, want int) error {
	ctx := context.Background()
	all, err := hc.CountInstances(ctx, host.Filter{}, host.GroupNone)
	if err != nil {
		return err
	}
	closed, err := hc.CountInstances(ctx, host.Filter{State: workflow.Completed, Completion: workflow.Closed}, host.GroupNone)
	if err != nil {
		return err
	}
	if all.Total != int64(want) || closed.Total != int64(want) {
		return fmt.Errorf("the server holds %d instances, %d of them Completed Closed; the drivers finished %d", all.Total, closed.Total, want)
	}
	return nil
}
