package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/wimp-project/wimp/bench/internal/report"
	"github.com/wimp-project/wimp/store/postgres/pgtest"
)

// node is one wimp-server child process.
type node struct {
	name string // --node-id ("" for a single node: the server's default)
	url  string // http://127.0.0.1:PORT, also its --advertise
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited and been waited for
}

// children are the processes and databases to clean up however the program ends.
var children = struct {
	sync.Mutex
	nodes map[*node]bool
	drops map[string]func() error
}{nodes: map[*node]bool{}, drops: map[string]func() error{}}

// cleanup kills every child still running and drops every database still there.
func cleanup() {
	children.Lock()
	nodes := make([]*node, 0, len(children.nodes))
	for n := range children.nodes {
		nodes = append(nodes, n)
	}
	drops := children.drops
	children.drops = map[string]func() error{}
	children.Unlock()
	for _, n := range nodes {
		n.kill()
	}
	for name, drop := range drops {
		if err := drop(); err != nil {
			report.Progress("dropping database %s: %v", name, err)
		}
	}
}

// cleanupOnSignal makes an interrupted run leave no server or database behind.
func cleanupOnSignal() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-ch
		report.Progress("%v: stopping the servers", s)
		cleanup()
		os.Exit(1)
	}()
}

// buildServer builds wimp-server from this module into dir.
func buildServer(dir string) (string, error) {
	bin := filepath.Join(dir, "wimp-server")
	report.Progress("building wimp-server")
	if b, err := exec.Command("go", "build", "-o", bin, "github.com/wimp-project/wimp/cmd/wimp-server").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build wimp-server: %v\n%s", err, b)
	}
	return bin, nil
}

// startNode starts wimp-server on a free loopback port, advertised as its own URL, with its
// log in logPath, and waits until /healthz answers (a lease renewal, so the store is writable).
// A port taken between picking and binding it (other programs share the machine) is retried.
func startNode(bin, logPath, name string, args ...string) (*node, error) {
	var err error
	for range 3 {
		var n *node
		if n, err = startOnce(bin, logPath, name, args); err == nil {
			return n, nil
		}
		if !errors.Is(err, errPortTaken) {
			return nil, err
		}
	}
	return nil, err
}

var errPortTaken = errors.New("the port was taken before the server bound it")

func startOnce(bin, logPath, name string, args []string) (*node, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	base := "http://" + addr
	flags := []string{"--listen", addr, "--advertise", base, "--log-level", "warn"}
	if name != "" {
		flags = append(flags, "--node-id", name)
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child has its own descriptor
	start := len(readLog(logPath))
	cmd := exec.Command(bin, append(flags, args...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = dieWithParent()
	n := &node{name: name, url: base, cmd: cmd, done: make(chan struct{})}
	children.Lock()
	if err := cmd.Start(); err != nil {
		children.Unlock()
		return nil, err
	}
	children.nodes[n] = true
	children.Unlock()
	go func() {
		_ = cmd.Wait()
		children.Lock()
		delete(children.nodes, n)
		children.Unlock()
		close(n.done)
	}()
	hc := &http.Client{Timeout: 2 * time.Second}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		select {
		case <-n.done:
			out := readLog(logPath)[start:]
			if strings.Contains(out, "address already in use") {
				return nil, errPortTaken
			}
			return nil, fmt.Errorf("wimp-server %s exited while starting: %s", name, strings.TrimSpace(out))
		case <-time.After(50 * time.Millisecond):
		}
		if resp, err := hc.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return n, nil
			}
		}
	}
	n.kill()
	return nil, fmt.Errorf("wimp-server %s did not answer /healthz on %s within 30 s", name, addr)
}

func readLog(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// kill9 sends SIGKILL and returns the time it was sent, then waits for the process to be gone.
func (n *node) kill9() time.Time {
	_ = n.cmd.Process.Signal(syscall.SIGKILL)
	sent := time.Now()
	<-n.done
	return sent
}

func (n *node) kill() {
	select {
	case <-n.done:
		return
	default:
	}
	_ = n.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-n.done:
	case <-time.After(10 * time.Second):
	}
}

// stop shuts the node down cleanly (SIGTERM: it releases its leases), or kills it after 15 s.
func (n *node) stop() {
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(15 * time.Second):
		report.Progress("wimp-server %s did not stop within 15 s of SIGTERM: killed", n.name)
		n.kill()
	}
}

func stopAll(nodes []*node) {
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Go(n.stop)
	}
	wg.Wait()
}

// freshDatabase creates an empty PostgreSQL database on the server at pg; drop removes it (and
// is also run by cleanup if the program ends first).
func freshDatabase(pg string) (url string, drop func(), err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	url, dropDB, err := pgtest.CreateDatabase(ctx, pg)
	if err != nil {
		return "", nil, err
	}
	children.Lock()
	children.drops[url] = dropDB
	children.Unlock()
	return url, func() {
		children.Lock()
		_, mine := children.drops[url]
		delete(children.drops, url)
		children.Unlock()
		if mine {
			if err := dropDB(); err != nil {
				report.Progress("dropping database %s: %v", url, err)
			}
		}
	}, nil
}

// logLevel matches the level and message of a logfmt line of the server's text log.
var logLevel = regexp.MustCompile(`level=(WARN|ERROR)\s+msg=("(?:[^"\\]|\\.)*"|\S+)`)

// serverLog counts the warnings and errors in the servers' logs in dir, by level and message,
// so that the summary shows what the servers complained about.
func serverLog(dir string) (map[string]int, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	counts := map[string]int{}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			if m := logLevel.FindStringSubmatch(sc.Text()); m != nil {
				counts[m[1]+" "+strings.Trim(m[2], `"`)]++
			} else if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "time=") {
				counts["other output: "+line]++ // a panic or anything not logged through slog
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return nil, err
		}
	}
	return counts, nil
}
