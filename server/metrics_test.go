package server_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/engine"
	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/server"
	"github.com/wimp-project/wimp/server/servertest"
	"github.com/wimp-project/wimp/soap"
	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/store/sqlite"
	"github.com/wimp-project/wimp/store/sqlite/sqlitetest"
)

// exposition is one scrape of /metrics in the text format: each family's type, and each
// sample's value by its series as printed (name{label="value",...}, labels in name order).
type exposition struct {
	types   map[string]string
	samples map[string]float64
}

func scrape(t *testing.T, base string) exposition {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, b)
	}
	e := exposition{types: map[string]string{}, samples: map[string]float64{}}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, typ, _ := strings.Cut(rest, " ")
			e.types[name] = typ
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("sample line %q: %v", line, err)
		}
		e.samples[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return e
}

// want checks series' values.
func (e exposition) want(t *testing.T, when string, values map[string]float64) {
	t.Helper()
	for series, v := range values {
		got, ok := e.samples[series]
		switch {
		case !ok:
			t.Errorf("%s: no sample %s", when, series)
		case got != v:
			t.Errorf("%s: %s = %v, want %v", when, series, got, v)
		}
	}
}

// wantTypes checks families' # TYPE lines.
func (e exposition) wantTypes(t *testing.T, types map[string]string) {
	t.Helper()
	for name, typ := range types {
		if e.types[name] != typ {
			t.Errorf("# TYPE %s %s: got %q", name, typ, e.types[name])
		}
	}
}

// atLeast checks series that grow with background work too (lease renewals commit).
func (e exposition) atLeast(t *testing.T, when string, values map[string]float64) {
	t.Helper()
	for series, v := range values {
		if got, ok := e.samples[series]; !ok || got < v {
			t.Errorf("%s: %s = %v (present: %v), want at least %v", when, series, got, ok, v)
		}
	}
}

const shortPauseDefinition = `<Workflow Name="ShortPause" Package="test" Version="1.0.0.0">
  <Delay Id="pause" Duration="50ms"/>
</Workflow>`

// The metrics of issue 10 are served with their types, and follow what the clients did:
// instances by state, pending timers, the timer that fired, the store's commits, and the
// hosting endpoint's operations told apart by fault code like the control endpoint's.
func TestMetricsFollowTheInstances(t *testing.T) {
	defs := t.TempDir()
	if err := os.WriteFile(filepath.Join(defs, "ShortPause.xml"), []byte(shortPauseDefinition), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := servertest.Run(t, servertest.Options{Definitions: defs, WriteTimeout: 200 * time.Millisecond})
	hostingC, controlC := clients(srv.URL, http.DefaultClient)

	createExpense(t, hostingC, 1500, "waits")             // Active, its review timeout pending
	suspended := createExpense(t, hostingC, 1500, "held") // Suspended: its timer is held
	if err := control(t, controlC, "Suspend", suspended, "held"); err != nil {
		t.Fatal(err)
	}
	paused, err := hostingC.Create(bg, host.CreateRequest{Definition: "ShortPause"})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		inst, err := hostingC.GetInstance(bg, paused)
		if err != nil {
			t.Fatal(err)
		}
		if inst.State == "Completed" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the 50ms Delay has not fired after 10s: %s", inst.State)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := hostingC.GetInstance(bg, uuid.New()); err == nil {
		t.Fatal("GetInstance of an unknown id succeeded")
	}

	m := scrape(t, srv.URL)
	m.wantTypes(t, map[string]string{
		"wimp_instances":                     "gauge",
		"wimp_timers_pending":                "gauge",
		"wimp_timer_lateness_seconds":        "histogram",
		"wimp_store_commits_total":           "counter",
		"wimp_store_commit_duration_seconds": "histogram",
		"wimp_store_commit_batch_size":       "histogram",
		"wimp_metrics_read_errors_total":     "counter",
		"wimp_operations_total":              "counter",
	})
	m.want(t, "after the first requests", map[string]float64{
		`wimp_instances{state="Active"}`:                                                          1,
		`wimp_instances{state="Suspended"}`:                                                       1,
		`wimp_instances{state="Completed"}`:                                                       1,
		`wimp_timers_pending`:                                                                     1,
		`wimp_timer_lateness_seconds_count`:                                                       1,
		`wimp_timer_lateness_seconds_bucket{le="+Inf"}`:                                           1,
		`wimp_metrics_read_errors_total{family="wimp_instances"}`:                                 0,
		`wimp_metrics_read_errors_total{family="wimp_timers_pending"}`:                            0,
		`wimp_store_commits_total{result="failed"}`:                                               0,
		`wimp_store_commits_total{result="timeout"}`:                                              0,
		`wimp_operations_total{code="ok",operation="Create",outcome="ok"}`:                        3,
		`wimp_operations_total{code="ok",operation="Suspend",outcome="ok"}`:                       1,
		`wimp_operations_total{code="Sender",operation="GetInstance",outcome="InstanceNotFound"}`: 1,
	})
	// Each of the five writes above (three creates, the suspension, the timer's firing) was
	// acknowledged before the next began, so each had a transaction of its own.
	m.atLeast(t, "after the first requests", map[string]float64{
		`wimp_store_commits_total{result="committed"}`:         5,
		`wimp_store_commit_duration_seconds_count`:             5,
		`wimp_store_commit_batch_size_count`:                   5,
		`wimp_store_commit_batch_size_sum`:                     5,
		`wimp_store_commit_duration_seconds_bucket{le="+Inf"}`: 5,
	})

	// With the database locked by another process, a Create times out: a Receiver fault,
	// and a batch that timed out.
	unlock := sqlitetest.HoldWriteLock(t, srv.DB)
	_, err = hostingC.Create(bg, host.CreateRequest{Definition: "ShortPause"})
	var f *soap.Fault
	if !errors.As(err, &f) || f.Code != soap.Receiver {
		t.Fatalf("Create while the database is locked: %v, want a Receiver fault", err)
	}
	unlock()
	// The writer reports a batch before answering it, and after every batch before it.
	createExpense(t, hostingC, 1500, "after the lock")
	m = scrape(t, srv.URL)
	m.want(t, "after the timed-out Create", map[string]float64{
		`wimp_operations_total{code="Receiver",operation="Create",outcome="Receiver"}`: 1,
		`wimp_operations_total{code="ok",operation="Create",outcome="ok"}`:             4,
		`wimp_instances{state="Active"}`:                                               2,
		`wimp_timers_pending`:                                                          2,
	})
	m.atLeast(t, "after the timed-out Create", map[string]float64{`wimp_store_commits_total{result="timeout"}`: 1})
}

// countsFail is a store whose counts cannot be read.
type countsFail struct{ store.Store }

var errCounts = errors.New("the counts cannot be read")

func (countsFail) CountInstances(context.Context, store.Filter, store.GroupBy) ([]store.Count, error) {
	return nil, errCounts
}

func (countsFail) PendingTimers(context.Context) (int64, error) { return 0, errCounts }

// A scrape whose store reads fail leaves those families out and counts the failures; the rest
// is served as usual.
func TestMetricsWithoutTheStoreCounts(t *testing.T) {
	st, err := sqlite.Open(bg, filepath.Join(t.TempDir(), "wimp.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	defs, err := engine.LoadRegistry("")
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h, err := host.New(host.Config{Store: countsFail{st}, Definitions: defs, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(bg); err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	srv := httptest.NewServer(server.New(h, server.Options{Log: log}))
	defer srv.Close()
	for i := 1; i <= 2; i++ {
		m := scrape(t, srv.URL)
		for series := range m.samples {
			if strings.HasPrefix(series, "wimp_instances{") || strings.HasPrefix(series, "wimp_timers_pending") {
				t.Errorf("scrape %d: %s served though it could not be read", i, series)
			}
		}
		m.want(t, "scrape "+strconv.Itoa(i), map[string]float64{
			`wimp_metrics_read_errors_total{family="wimp_instances"}`:      float64(i),
			`wimp_metrics_read_errors_total{family="wimp_timers_pending"}`: float64(i),
			`wimp_instances_loaded`: 0,
		})
		// Without Options.Metrics nothing reports the store's commits or the timers.
		for _, name := range []string{"wimp_store_commits_total", "wimp_timer_lateness_seconds"} {
			if typ, ok := m.types[name]; ok {
				t.Errorf("scrape %d: %s (%s) served by a server whose store and host were not wired to it", i, name, typ)
			}
		}
	}
}

// Bulk jobs' outcomes and purges are counted: a bulk Suspend over an Active and a terminated
// instance gives one ok and one InstanceTerminated (the MS-WFIM state table), and purging the
// terminated one counts one purged instance.
func TestMetricsOfBulkAndPurge(t *testing.T) {
	srv := servertest.Run(t, servertest.Options{})
	hostingC, controlC := clients(srv.URL, http.DefaultClient)
	createExpense(t, hostingC, 10, "live")
	done := createExpense(t, hostingC, 10, "done")
	if err := control(t, controlC, "Terminate", done, "end"); err != nil {
		t.Fatal(err)
	}
	job, err := hostingC.StartBulkOperation(bg, host.BulkRequest{Operation: "Suspend", Reason: "audit", RatePerSecond: 1000})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		page, err := hostingC.GetBulkOperation(bg, job.ID, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !page.Job.Running() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the bulk job is still running after 10s: %+v", page.Job)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := hostingC.Purge(bg, host.Filter{State: "Completed"}, false); err != nil {
		t.Fatal(err)
	}
	m := scrape(t, srv.URL)
	m.wantTypes(t, map[string]string{
		"wimp_bulk_instances_total":   "counter",
		"wimp_bulk_jobs_running":      "gauge",
		"wimp_purged_instances_total": "counter",
	})
	m.want(t, "after the bulk job and the purge", map[string]float64{
		`wimp_bulk_instances_total{outcome="ok"}`:                 1,
		`wimp_bulk_instances_total{outcome="InstanceTerminated"}`: 1,
		`wimp_bulk_jobs_running`:                                  0,
		`wimp_purged_instances_total`:                             1,
		`wimp_instances{state="Suspended"}`:                       1,
	})
}
