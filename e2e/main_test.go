// Package e2e runs the real wimp-server process and drives it with wimpctl and the Go
// clients: durability across kill -9, durable timers, the MS-WFIM lifecycle operations.
//
//	go test ./e2e/...            # about a minute on two cores
//	go test -race ./e2e/...      # the server binary is built with -race too; a race it reports fails the test
//
// TestMain builds ./cmd/wimp-server and ./cmd/wimpctl once into a temporary directory.
package e2e

import (
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/hosting"
	"github.com/wimp-project/wimp/internal/testserver"
	"github.com/wimp-project/wimp/soap"
)

var (
	serverBin string
	ctlBin    string
)

func TestMain(m *testing.M) { testserver.RunWithBinaries(m, &serverBin, &ctlBin) }

// server is a series of wimp-server processes over one database: restart starts a new
// process on it.
type server struct {
	*testserver.Series
	t testing.TB
}

// startServer starts wimp-server with --listen 127.0.0.1:0 --db DIR/wimp.db and extra flags.
func startServer(t testing.TB, extra ...string) *server {
	t.Helper()
	return &server{testserver.NewSeries(t, serverBin, t.TempDir(), func() []string { return extra }), t}
}

func (s *server) restart() { s.Start() }

// hosting returns a Go client of the hosting endpoint.
func (s *server) hosting() *hosting.Client {
	return hosting.NewClient(s.URL + "/WorkflowHosting")
}

// control returns a SOAP client of the MS-WFIM control endpoint.
func (s *server) control() *soap.Client {
	return &soap.Client{URL: s.URL + "/WorkflowControl", Version: soap.V11}
}

// isFault reports whether wimpctl exited 2 with a fault whose subcode is local (any
// namespace ends in "}"+local).
func isFault(r testserver.CtlResult, local string) bool {
	return r.Code == 2 && strings.Contains(r.Stderr, "}"+local)
}

// wimpctl runs wimpctl --endpoint URL args... .
func (s *server) wimpctl(args ...string) testserver.CtlResult {
	s.t.Helper()
	r, err := testserver.Ctl(ctlBin, s.URL, args...)
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		s.t.Fatalf("wimpctl %v: %v", args, err)
	}
	return r
}

// ok runs wimpctl and fails the test unless it exits 0; it returns stdout.
func (s *server) ok(args ...string) string {
	s.t.Helper()
	r := s.wimpctl(args...)
	if r.Code != 0 {
		s.t.Fatalf("wimpctl %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

// wantFault runs wimpctl and fails the test unless it reports a fault with subcode local.
func (s *server) wantFault(local string, args ...string) {
	s.t.Helper()
	r := s.wimpctl(args...)
	if !isFault(r, local) {
		s.t.Fatalf("wimpctl %s: want a fault with subcode %s (exit 2); got exit %d\nstdout: %s\nstderr: %s",
			strings.Join(args, " "), local, r.Code, r.Stdout, r.Stderr)
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

// instance is `wimpctl get --json` (README, "Try it end to end").
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
