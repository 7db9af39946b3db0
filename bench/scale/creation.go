package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/hosting"
)

// creationResult is one creation run: n waiting ExpenseApproval instances created over SOAP.
type creationResult struct {
	perSec        float64
	peakRSS       int64 // the server's VmHWM
	dbBytesPerIns float64
}

// createWaiting starts wimp-server (bin) on a fresh database with extra flags, creates n
// ExpenseApproval instances (each left waiting on its Review bookmark and a 240 h timer) with
// `clients` concurrent hosting-endpoint clients, and reads the server's peak resident memory.
func createWaiting(bin, dir string, n, clients int, flags ...string) (creationResult, error) {
	db := filepath.Join(dir, "creation.db")
	for _, suffix := range []string{"", "-wal", "-shm"} {
		_ = os.Remove(db + suffix)
	}
	cmd, base, err := startServer(bin, append([]string{"--db", db}, flags...)...)
	if err != nil {
		return creationResult{}, err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	hc := hosting.NewClient(base + "/WorkflowHosting")
	var next atomic.Int64
	errs := make(chan error, clients)
	var wg sync.WaitGroup
	start := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				if _, err := hc.Create(context.Background(), host.CreateRequest{Definition: "ExpenseApproval", Version: "1.0.0.0",
					Inputs: map[string]any{"amount": 10.0, "submitter": "bench"}}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
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
	return creationResult{perSec: float64(n) / elapsed.Seconds(), peakRSS: rss, dbBytesPerIns: float64(size) / float64(n)}, nil
}

// startServer picks a free loopback port, starts the server on it and waits for /healthz.
func startServer(bin string, args ...string) (*exec.Cmd, string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	cmd := exec.Command(bin, append([]string{"--listen", addr, "--log-level", "warn"}, args...)...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	base := "http://" + addr
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return cmd, base, nil
			}
		}
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	return nil, "", fmt.Errorf("wimp-server did not answer /healthz on %s within 30 s", addr)
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
