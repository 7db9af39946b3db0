package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wimp-project/wimp/bench/internal/child"

	"github.com/beevik/etree"
	"github.com/google/uuid"

	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/hosting"
	"github.com/wimp-project/wimp/protocol"
	"github.com/wimp-project/wimp/soap"
)

// creationResult is one creation run: n waiting ExpenseApproval instances created over SOAP.
type creationResult struct {
	perSec        float64
	peakRSS       int64 // the server's VmHWM
	dbBytesPerIns float64
	// p50 of a point operation (MS-WFIM Suspend or Unsuspend of a random instance, one client)
	// with pointAt instances in the store, and with all n
	pointSmallP50, pointP50 time.Duration
}

// pointAt is how many instances the store holds at the first point-operation probe.
const pointAt = 1000

// pointProbe is how many operations a probe makes: Suspend then Unsuspend of pointProbe/2
// random instances, one at a time.
const pointProbe = 400

// pointOps is the p50 latency of MS-WFIM Suspend and Unsuspend over SOAP 1.1 of random
// instances among ids, one client, each reply checked; each instance ends Active as before.
func pointOps(base string, ids []uuid.UUID) (time.Duration, error) {
	c := &soap.Client{URL: base + "/WorkflowControl"}
	suspend, _ := protocol.OpByName("Suspend")
	unsuspend, _ := protocol.OpByName("Unsuspend")
	rng := rand.New(rand.NewPCG(uint64(len(ids)), 7))
	var lat []time.Duration
	for range pointProbe / 2 {
		id := ids[rng.IntN(len(ids))]
		for _, op := range []protocol.Op{suspend, unsuspend} {
			body := etree.NewElement(op.Name)
			body.CreateAttr("xmlns", protocol.NS)
			body.CreateElement("instanceId").SetText(id.String())
			if op.Name == "Suspend" {
				body.CreateElement("reason").SetText("bench")
			}
			start := time.Now()
			r, err := c.Call(context.Background(), op.Action(), body)
			if err != nil {
				return 0, fmt.Errorf("%s %s: %w", op.Name, id, err)
			}
			if r == nil || r.Tag != op.Name+"Response" {
				return 0, fmt.Errorf("%s %s: no %sResponse in the reply", op.Name, id, op.Name)
			}
			lat = append(lat, time.Since(start))
		}
	}
	slices.Sort(lat)
	return lat[len(lat)/2], nil
}

// createWaiting starts wimp-server (bin) on a fresh database with extra flags, creates n
// ExpenseApproval instances (each left waiting on its Review bookmark and a 240 h timer) with
// `clients` concurrent hosting-endpoint clients, and reads the server's peak resident memory.
func createWaiting(bin, dir string, n, clients int, flags ...string) (creationResult, error) {
	db := filepath.Join(dir, "creation.db")
	for _, suffix := range []string{"", "-wal", "-shm"} {
		_ = os.Remove(db + suffix)
	}
	cmd, base, err := child.StartServer(bin, append([]string{"--db", db}, flags...)...)
	if err != nil {
		return creationResult{}, err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	hc := hosting.NewClient(base + "/WorkflowHosting")
	ids := make([]uuid.UUID, n)
	var next atomic.Int64
	create := func(upTo int) (time.Duration, error) {
		errs := make(chan error, clients)
		var wg sync.WaitGroup
		start := time.Now()
		for range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := next.Add(1) - 1; i < int64(upTo); i = next.Add(1) - 1 {
					id, err := hc.Create(context.Background(), host.CreateRequest{Definition: "ExpenseApproval", Version: "1.0.0.0",
						Inputs: map[string]any{"amount": 10.0, "submitter": "bench"}})
					if err != nil {
						errs <- err
						return
					}
					ids[i] = id
				}
			}()
		}
		wg.Wait()
		next.Store(int64(upTo))
		close(errs)
		return time.Since(start), <-errs
	}
	// Point operations at 1,000 instances, then at n: the same probe on a database 1 % and 100 %
	// full (the first figure is the baseline of the second).
	first := min(pointAt, n)
	elapsed, err := create(first)
	if err != nil {
		return creationResult{}, err
	}
	var res creationResult
	if res.pointSmallP50, err = pointOps(base, ids[:first]); err != nil {
		return creationResult{}, err
	}
	rest, err := create(n)
	if err != nil {
		return creationResult{}, err
	}
	elapsed += rest
	if res.pointP50, err = pointOps(base, ids); err != nil {
		return creationResult{}, err
	}
	rss, err := peakRSS(cmd.Process.Pid)
	if err != nil {
		return creationResult{}, err
	}
	// A clean stop checkpoints the WAL into the database file: the size is what stays.
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()
	var size int64
	for _, suffix := range []string{"", "-wal"} {
		if fi, err := os.Stat(db + suffix); err == nil {
			size += fi.Size()
		}
	}
	res.perSec, res.peakRSS, res.dbBytesPerIns = float64(n)/elapsed.Seconds(), rss, float64(size)/float64(n)
	return res, nil
}

// peakRSS is the process's VmHWM (peak resident set) in bytes.
func peakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}
