package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/cschleiden/go-workflows/backend"
	"github.com/cschleiden/go-workflows/backend/monoprocess"
	"github.com/cschleiden/go-workflows/backend/sqlite"
	"github.com/cschleiden/go-workflows/client"
	"github.com/cschleiden/go-workflows/core"
	"github.com/cschleiden/go-workflows/worker"
	"github.com/cschleiden/go-workflows/workflow"
	"github.com/google/uuid"
)

// peerWorkflow is the go-workflows workflow: wait for the signal "go", then a 10 ms timer, then
// return the signal's value.
func peerWorkflow(ctx workflow.Context) (int64, error) {
	v, ok := workflow.NewSignalChannel[int64](ctx, "go").Receive(ctx)
	if !ok {
		return 0, errors.New("the signal channel was closed")
	}
	if _, err := workflow.ScheduleTimer(ctx, 10*time.Millisecond).Get(ctx); err != nil {
		return 0, err
	}
	return v, nil
}

// polling counts the completion polls of go-workflows' client: GetWorkflowResult reads the
// instance's state through the backend it was given.
type polling struct {
	backend.Backend
	polls atomic.Int64
}

func (p *polling) GetWorkflowInstanceState(ctx context.Context, instance *workflow.Instance) (core.WorkflowInstanceState, error) {
	p.polls.Add(1)
	return p.Backend.GetWorkflowInstanceState(ctx, instance)
}

// openPeer opens go-workflows' SQLite backend on a file db with synchronous=FULL and checks
// that its connection has it. The backend panics when it cannot open the file.
func openPeer(db string, opts ...backend.BackendOption) (b backend.Backend, closeDB func() error, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("go-workflows' sqlite backend: %v", p)
		}
	}()
	// NewSqliteBackend opens "file:" + path; the driver (modernc.org/sqlite) applies a _pragma
	// query parameter on every connection it opens. The backend sets journal_mode=WAL itself.
	sb := sqlite.NewSqliteBackend(db+"?_pragma=synchronous(FULL)", sqlite.WithBackendOptions(opts...))
	conn, err := backendDB(sb)
	if err != nil {
		_ = sb.Close()
		return nil, nil, err
	}
	var synchronous int
	var journal string
	if err := conn.QueryRow("PRAGMA synchronous").Scan(&synchronous); err != nil {
		_ = sb.Close()
		return nil, nil, err
	}
	if err := conn.QueryRow("PRAGMA journal_mode").Scan(&journal); err != nil {
		_ = sb.Close()
		return nil, nil, err
	}
	if synchronous != 2 || journal != "wal" {
		_ = sb.Close()
		return nil, nil, fmt.Errorf("go-workflows' connection has synchronous=%d journal_mode=%s, want 2 (FULL) and wal", synchronous, journal)
	}
	return monoprocess.NewMonoprocessBackend(sb), sb.Close, nil
}

// backendDB is the *sql.DB inside go-workflows' sqlite backend (its unexported field db in
// v1.2.0), read to check the pragmas on the very connection it uses.
func backendDB(sb any) (*sql.DB, error) {
	v := reflect.ValueOf(sb)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("go-workflows' sqlite backend is a %T, not a pointer to a struct", sb)
	}
	f := v.Elem().FieldByName("db")
	if !f.IsValid() || f.Type() != reflect.TypeFor[*sql.DB]() {
		return nil, fmt.Errorf("go-workflows' sqlite backend (%T) has no field db *sql.DB", sb)
	}
	return *(**sql.DB)(unsafe.Pointer(f.UnsafeAddr())), nil
}

// runPeer runs the drivers against go-workflows on a fresh SQLite file db for d.
func runPeer(db string, drivers int, d time.Duration) (result, error) {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	b, closeDB, err := openPeer(db, backend.WithLogger(log))
	if err != nil {
		return result{}, err
	}
	defer closeDB()
	ctx, cancel := context.WithCancel(context.Background())
	w := worker.New(b, nil) // worker.DefaultOptions
	if err := w.RegisterWorkflow(peerWorkflow); err != nil {
		cancel()
		return result{}, err
	}
	if err := w.Start(ctx); err != nil {
		cancel()
		return result{}, err
	}
	defer func() { cancel(); _ = w.WaitForCompletion() }()
	pb := &polling{Backend: b}
	c := client.New(pb)

	u0, err := readUsage("self")
	if err != nil {
		return result{}, err
	}
	t, elapsed, err := drive(drivers, d, func(n int64) error { return peerOne(c, n) })
	if err != nil {
		return result{}, err
	}
	u1, err := readUsage("self")
	if err != nil {
		return result{}, err
	}
	r := t.result(d, pb.polls.Load())
	if r.finished > 0 {
		r.cpuMsPerInstance = ms(u1.cpu-u0.cpu) / float64(r.finished)
		r.engineCPUMs = r.cpuMsPerInstance
		r.bytesPerInstance = float64(u1.written-u0.written) / float64(r.finished)
	}
	r.cpuBusy = (u1.cpu - u0.cpu).Seconds() / elapsed.Seconds()
	return r, nil
}

// peerOne takes one instance through the workflow: CreateWorkflowInstance, SignalWorkflow "go"
// with n, GetWorkflowResult, which must return n without error.
func peerOne(c *client.Client, n int64) error {
	ctx := context.Background()
	inst, err := c.CreateWorkflowInstance(ctx, client.WorkflowInstanceOptions{InstanceID: uuid.NewString()}, peerWorkflow)
	if err != nil {
		return fmt.Errorf("CreateWorkflowInstance: %w", err)
	}
	if err := c.SignalWorkflow(ctx, inst.InstanceID, "go", n); err != nil {
		return fmt.Errorf("SignalWorkflow %s: %w", inst.InstanceID, err)
	}
	got, err := client.GetWorkflowResult[int64](ctx, c, inst, waitTimeout)
	if err != nil {
		return fmt.Errorf("GetWorkflowResult %s: %w", inst.InstanceID, err)
	}
	if got != n {
		return fmt.Errorf("instance %s returned %d, want %d", inst.InstanceID, got, n)
	}
	return nil
}
