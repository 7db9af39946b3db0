// Package e2e runs the real wimp-server process and drives it with wimpctl and the Go
// clients: durability across kill -9, durable timers, the MS-WFIM lifecycle operations.
//
//	go test ./e2e/...            # about a minute on two cores
//	go test -race ./e2e/...      # the server binary is built with -race too; a race it reports fails the test
//
// TestMain builds ./cmd/wimp-server and ./cmd/wimpctl once into a temporary directory.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/hosting"
	"github.com/wimp-project/wimp/soap"
)

var (
	serverBin string
	ctlBin    string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wimp-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	serverBin = filepath.Join(dir, "wimp-server")
	ctlBin = filepath.Join(dir, "wimpctl")
	// The server is built with -race when the tests run with -race; wimpctl never is (it
	// is started for every command and a race-instrumented start-up is slow).
	build := func(race bool, pkg string) error {
		args := []string{"build", "-o", dir + string(filepath.Separator)}
		if race {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, pkg)...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		return cmd.Run()
	}
	for _, b := range []struct {
		race bool
		pkg  string
	}{{raceEnabled, "github.com/wimp-project/wimp/cmd/wimp-server"}, {false, "github.com/wimp-project/wimp/cmd/wimpctl"}} {
		if err := build(b.race, b.pkg); err != nil {
			fmt.Fprintln(os.Stderr, "building", b.pkg+":", err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is one wimp-server process over a database in dir. restart starts a new process on
// the same database.
type server struct {
	t     testing.TB
	dir   string
	extra []string

	cmd      *exec.Cmd
	done     chan struct{}
	URL      string    // http://127.0.0.1:PORT
	Listened time.Time // the time= of its msg=listening log line (server clock)

	mu  sync.Mutex
	log bytes.Buffer // stderr of every process started so far
}

var (
	listeningRE = regexp.MustCompile(`^time=(\S+) .*msg=listening url="?(http://[^\s"]+)"?`)
	raceRE      = regexp.MustCompile(`WARNING: DATA RACE|panic:|fatal error:`)
)

// startServer starts wimp-server with --listen 127.0.0.1:0 --db DIR/wimp.db and extra flags.
func startServer(t testing.TB, extra ...string) *server {
	t.Helper()
	s := &server{t: t, dir: t.TempDir(), extra: extra}
	s.start()
	t.Cleanup(func() {
		s.stop()
		s.mu.Lock()
		defer s.mu.Unlock()
		if m := raceRE.FindString(s.log.String()); m != "" {
			t.Errorf("server reported %q; its log:\n%s", m, s.log.String())
		} else if t.Failed() {
			t.Logf("server log:\n%s", s.log.String())
		}
	})
	return s
}

func (s *server) start() {
	s.t.Helper()
	args := append([]string{"--listen", "127.0.0.1:0", "--db", filepath.Join(s.dir, "wimp.db")}, s.extra...)
	cmd := exec.Command(serverBin, args...)
	cmd.Dir = s.dir
	stderr, err := cmd.StderrPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	type listening struct {
		url string
		at  time.Time
	}
	ready := make(chan listening, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		found := false
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.log.WriteString(line + "\n")
			s.mu.Unlock()
			if m := listeningRE.FindStringSubmatch(line); !found && m != nil {
				found = true
				at, _ := time.Parse(time.RFC3339Nano, m[1])
				ready <- listening{strings.TrimRight(m[2], "/"), at}
			}
		}
		_ = cmd.Wait()
	}()
	select {
	case l := <-ready:
		s.cmd, s.done, s.URL, s.Listened = cmd, done, l.url, l.at
	case <-done:
		s.mu.Lock()
		defer s.mu.Unlock()
		s.t.Fatalf("wimp-server exited before listening:\n%s", s.log.String())
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		s.mu.Lock()
		defer s.mu.Unlock()
		s.t.Fatalf("wimp-server did not report listening within 30s:\n%s", s.log.String())
	}
}

// kill9 kills the server with SIGKILL: no shutdown code runs.
func (s *server) kill9() {
	s.t.Helper()
	if s.cmd == nil {
		return
	}
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		s.t.Fatalf("kill -9: %v", err)
	}
	<-s.done
	s.cmd = nil
}

// stop ends the server gracefully (SIGTERM), or with SIGKILL after 10s.
func (s *server) stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd = nil
}

func (s *server) restart() {
	s.t.Helper()
	s.start()
}

// hosting returns a Go client of the hosting endpoint.
func (s *server) hosting() *hosting.Client {
	return hosting.NewClient(s.URL + "/WorkflowHosting")
}

// control returns a SOAP client of the MS-WFIM control endpoint.
func (s *server) control() *soap.Client {
	return &soap.Client{URL: s.URL + "/WorkflowControl", Version: soap.V11}
}

// ctlResult is one wimpctl run.
type ctlResult struct {
	stdout, stderr string
	code           int
}

// fault reports whether wimpctl exited 2 with a fault whose subcode is local (any namespace
// ends in "}"+local).
func (r ctlResult) fault(local string) bool {
	return r.code == 2 && strings.Contains(r.stderr, "}"+local)
}

// wimpctl runs wimpctl --endpoint URL args... .
func (s *server) wimpctl(args ...string) ctlResult {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, ctlBin, append([]string{"--endpoint", s.URL}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := ctlResult{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		s.t.Fatalf("wimpctl %v: %v", args, err)
	}
	return r
}

// ok runs wimpctl and fails the test unless it exits 0; it returns stdout.
func (s *server) ok(args ...string) string {
	s.t.Helper()
	r := s.wimpctl(args...)
	if r.code != 0 {
		s.t.Fatalf("wimpctl %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// wantFault runs wimpctl and fails the test unless it reports a fault with subcode local.
func (s *server) wantFault(local string, args ...string) {
	s.t.Helper()
	r := s.wimpctl(args...)
	if !r.fault(local) {
		s.t.Fatalf("wimpctl %s: want a fault with subcode %s (exit 2); got exit %d\nstdout: %s\nstderr: %s",
			strings.Join(args, " "), local, r.code, r.stdout, r.stderr)
	}
}

// create runs wimpctl create and returns the new instance id.
func (s *server) create(def string, args ...string) string {
	s.t.Helper()
	out := strings.TrimSpace(s.ok(append([]string{"create", "--definition", def}, args...)...))
	if _, err := uuid.Parse(out); err != nil {
		s.t.Fatalf("create printed %q, not an id", out)
	}
	return out
}

// instance is `wimpctl get --json` (DESIGN §2).
type instance struct {
	ID                  string   `json:"id"`
	State               string   `json:"state"`
	Completion          string   `json:"completion"`
	CompletionReason    string   `json:"completionReason"`
	SuspensionReason    string   `json:"suspensionReason"`
	SuspensionException string   `json:"suspensionException"`
	Bookmarks           []string `json:"bookmarks"`
	Definition          struct{ Name, Package, Version string }
	Variables           map[string]any `json:"variables"`
	PendingTimer        *time.Time     `json:"pendingTimer"`
	ExecutionStatus     string         `json:"executionStatus"`
}

func (s *server) get(id string) instance {
	s.t.Helper()
	var inst instance
	out := s.ok("get", id, "--json")
	if err := json.Unmarshal([]byte(out), &inst); err != nil {
		s.t.Fatalf("get --json: %v\n%s", err, out)
	}
	return inst
}

// record is one element of `wimpctl track ID --json`.
type record struct {
	Seq       int64     `json:"seq"`
	Time      time.Time `json:"time"`
	Kind      string    `json:"kind"`
	Name      string    `json:"name"`
	Activity  string    `json:"activity"`
	Reason    string    `json:"reason"`
	Principal string    `json:"principal"`
	Data      string    `json:"data"`
}

func (s *server) track(id string) []record {
	s.t.Helper()
	var recs []record
	out := s.ok("track", id, "--json")
	if err := json.Unmarshal([]byte(out), &recs); err != nil {
		s.t.Fatalf("track --json: %v\n%s", err, out)
	}
	return recs
}

// waitFor polls get --json until cond holds or the deadline passes; it returns the last read.
// It is a liveness bound, not a timing assertion.
func (s *server) waitFor(id string, within time.Duration, what string, cond func(instance) bool) instance {
	s.t.Helper()
	deadline := time.Now().Add(within)
	for {
		inst := s.get(id)
		if cond(inst) {
			return inst
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("instance %s: %s did not happen within %v; last read: %+v", id, what, within, inst)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// num reads a numeric workflow variable.
func num(inst instance, name string) float64 {
	f, _ := inst.Variables[name].(float64)
	return f
}

func str(inst instance, name string) string {
	v, _ := inst.Variables[name].(string)
	return v
}

// timerRecords are the tracking records of fired Delay timers, with the due time each names.
type firedTimer struct {
	record
	Due time.Time
}

func timerRecords(t testing.TB, recs []record) []firedTimer {
	t.Helper()
	var out []firedTimer
	for _, r := range recs {
		if r.Kind != "Bookmark" || r.Name != "(timer)" {
			continue
		}
		var d struct {
			Due time.Time `json:"due"`
		}
		if err := json.Unmarshal([]byte(r.Data), &d); err != nil {
			t.Fatalf("timer record %d data %q: %v", r.Seq, r.Data, err)
		}
		out = append(out, firedTimer{r, d.Due})
	}
	return out
}

// assertFiredOnce fails if two timer records name the same due time (a timer fired twice).
func assertFiredOnce(t testing.TB, timers []firedTimer) {
	t.Helper()
	seen := map[time.Time]int64{}
	for _, f := range timers {
		if prev, dup := seen[f.Due]; dup {
			t.Errorf("the timer due %s fired twice: records %d and %d", f.Due.Format(time.RFC3339Nano), prev, f.Seq)
		}
		seen[f.Due] = f.Seq
	}
}

func findRecord(recs []record, kind, name string) (record, bool) {
	for _, r := range recs {
		if r.Kind == kind && r.Name == name {
			return r, true
		}
	}
	return record{}, false
}

func countRecords(recs []record, kind, name string) int {
	n := 0
	for _, r := range recs {
		if r.Kind == kind && r.Name == name {
			n++
		}
	}
	return n
}
