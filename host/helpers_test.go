package host_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/engine"
	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/protocol"
	"github.com/wimp-project/wimp/soap"
	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/store/sqlite"
	"github.com/wimp-project/wimp/workflow"
)

var bg = context.Background()

// newHost returns a started in-process host over a temporary SQLite store with the embedded
// samples; unloadAfter < 0 unloads idle instances at once.
func newHost(t *testing.T, unloadAfter time.Duration) *host.Host {
	t.Helper()
	return startHost(t, host.Config{UnloadAfter: unloadAfter})
}

// openStore opens a temporary SQLite store closed at the test's end.
func openStore(t *testing.T, opts ...sqlite.Option) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(bg, filepath.Join(t.TempDir(), "wimp.db"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// startHost starts a host with cfg (over a temporary SQLite store unless cfg.Store is set, and
// with the embedded samples unless cfg.Definitions is); the test's cleanup closes it.
func startHost(t *testing.T, cfg host.Config) *host.Host {
	t.Helper()
	if cfg.Store == nil {
		cfg.Store = openStore(t)
	}
	if cfg.Definitions == nil {
		defs, err := engine.LoadRegistry("")
		if err != nil {
			t.Fatal(err)
		}
		cfg.Definitions = defs
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	h, err := host.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(bg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// registry holds the embedded samples plus the given definitions.
func registry(t *testing.T, sources ...string) *engine.Registry {
	t.Helper()
	defs, err := engine.LoadRegistry("")
	if err != nil {
		t.Fatal(err)
	}
	for i, src := range sources {
		d, err := engine.ParseDefinition(fmt.Sprintf("test%d.xml", i), []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		if err := defs.Add(d); err != nil {
			t.Fatal(err)
		}
	}
	return defs
}

// loopDefinition is a workflow Name (package test) that increments i while condition holds;
// attrs are further attributes of its Workflow element.
func loopDefinition(name, condition, attrs string) string {
	return fmt.Sprintf(`<Workflow Name=%q Package="test" Version="1.0.0.0" %s>
  <Variables><Variable Name="i" Type="Number" Default="0"/></Variables>
  <While Id="loop" Condition="[%s]">
    <Assign Id="inc" To="i" Value="[i + 1]"/>
  </While>
</Workflow>`, name, attrs, condition)
}

func createExpense(t *testing.T, h *host.Host, amount int) uuid.UUID {
	t.Helper()
	id, err := h.Create(bg, host.CreateRequest{Definition: "ExpenseApproval", Version: "1.0.0.0",
		Inputs: map[string]any{"amount": amount, "submitter": "unit"}})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// manage sends an MS-WFIM operation through the protocol's state table.
func manage(t *testing.T, h *host.Host, op string, id uuid.UUID, reason string) error {
	t.Helper()
	o, ok := protocol.OpByName(op)
	if !ok {
		t.Fatalf("no op %s", op)
	}
	cmd := protocol.Command{Op: o, InstanceID: id}
	if reason != "" {
		cmd.Reason = &reason
	}
	return h.Manage(bg, cmd.Host())
}

func mustManage(t *testing.T, h *host.Host, op string, id uuid.UUID, reason string) {
	t.Helper()
	if err := manage(t, h, op, id, reason); err != nil {
		t.Fatalf("%s %s: %v", op, id, err)
	}
}

// subcode is the MS-WFIM fault subcode err becomes on the wire ("" when it is no such fault).
func subcode(err error) string {
	var f *soap.Fault
	if !errors.As(protocol.Fault(err), &f) || len(f.Subcodes) == 0 {
		return ""
	}
	return f.Subcodes[len(f.Subcodes)-1].Local
}

func get(t *testing.T, h *host.Host, id uuid.UUID) (*host.Instance, map[string]any) {
	t.Helper()
	inst, err := h.Get(bg, id)
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]any{}
	if len(inst.Variables) > 0 {
		if err := json.Unmarshal(inst.Variables, &vars); err != nil {
			t.Fatal(err)
		}
	}
	return inst, vars
}

func records(t *testing.T, h *host.Host, id uuid.UUID) []workflow.Record {
	t.Helper()
	recs, err := h.Records(bg, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func countKind(recs []workflow.Record, kind workflow.RecordKind, name string) int {
	n := 0
	for _, r := range recs {
		if r.Kind == kind && r.Name == name {
			n++
		}
	}
	return n
}

// eventually polls cond every millisecond until it holds or five seconds pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitNoSlots waits for background execution to finish (drive goroutines release their slots).
func waitNoSlots(t *testing.T, h *host.Host) {
	t.Helper()
	eventually(t, "every slot released", func() bool { return h.SlotCount() == 0 })
}

// fakeClock is a settable clock for Config.Clock.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock(t time.Time) *fakeClock {
	c := &fakeClock{}
	c.set(t)
	return c
}

func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *fakeClock) set(t time.Time)         { c.ns.Store(t.UnixNano()) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// faultStore is a store whose writes can be made to fail, as a full or broken disk fails
// them, and that counts them.
type faultStore struct {
	store.Store
	fail    atomic.Bool
	commits atomic.Int64 // Commit calls that reached the store
}

var errDiskFull = errors.New("database or disk is full (13)")

func (f *faultStore) Commit(ctx context.Context, changes ...store.Change) error {
	f.commits.Add(1)
	if f.fail.Load() {
		return errDiskFull
	}
	return f.Store.Commit(ctx, changes...)
}

func (f *faultStore) Renew(ctx context.Context, owner string, ttl time.Duration) error {
	if f.fail.Load() {
		return errDiskFull
	}
	return f.Store.Renew(ctx, owner, ttl)
}

// manualTimers collects the unloads a host schedules, to run them when the test says.
type manualTimers struct {
	mu  sync.Mutex
	fns []func()
}

func (m *manualTimers) afterFunc(_ time.Duration, f func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fns = append(m.fns, f)
}

func (m *manualTimers) fireAll() int {
	m.mu.Lock()
	fns := m.fns
	m.fns = nil
	m.mu.Unlock()
	for _, f := range fns {
		f()
	}
	return len(fns)
}
