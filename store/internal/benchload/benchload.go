// Package benchload is the update workload the store benchmark programs (store/cmd/storebench,
// store/postgres/cmd/pgbench) measure, so that both backends are measured by the same load.
package benchload

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/workflow"
)

// Committer is the part of a store the workload uses.
type Committer interface {
	Commit(ctx context.Context, changes ...store.Change) error
}

// Insert commits, in one call, n instances with images of imageBytes, for Update to update.
func Insert(ctx context.Context, s Committer, n, imageBytes int) ([]*store.Instance, error) {
	ins := make([]*store.Instance, n)
	changes := make([]store.Change, n)
	for i := range ins {
		ins[i] = &store.Instance{ID: uuid.New(), State: workflow.Active, ExecutionStatus: "Idle",
			Definition: workflow.Identity{Name: "Bench", Version: "1.0"}, Image: make([]byte, imageBytes),
			Variables: []byte(`{"n":0}`)}
		changes[i] = store.Change{Op: store.Insert, Instance: ins[i]}
	}
	if err := s.Commit(ctx, changes...); err != nil {
		return nil, err
	}
	return ins, nil
}

// Result is what Update measured.
type Result struct {
	Commits   int64           // commits done within the interval
	Elapsed   time.Duration   // the interval
	Latencies []time.Duration // of every commit, sorted
}

// Update has a caller per instance of ins commit updates of it, with a record each, for d, and
// returns what it measured, or the first error a commit returned.
func Update(ctx context.Context, s Committer, ins []*store.Instance, d time.Duration) (Result, error) {
	var (
		total    atomic.Int64
		stop     atomic.Bool
		wg       sync.WaitGroup
		mu       sync.Mutex
		lat      []time.Duration
		firstErr error
	)
	start := time.Now()
	for _, in := range ins {
		wg.Go(func() {
			var mine []time.Duration
			for n := 0; !stop.Load(); n++ {
				in.Variables = fmt.Appendf(in.Variables[:0], `{"n":%d}`, n)
				t0 := time.Now()
				err := s.Commit(ctx, store.Change{Op: store.Update, Instance: in,
					Records: []workflow.Record{{Kind: workflow.InstanceRecord, Name: "Persisted"}}})
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				mine = append(mine, time.Since(t0))
				total.Add(1)
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	time.Sleep(d) // the measured interval
	stop.Store(true)
	n := total.Load()
	elapsed := time.Since(start)
	wg.Wait()
	if firstErr != nil {
		return Result{}, firstErr
	}
	slices.Sort(lat)
	return Result{Commits: n, Elapsed: elapsed, Latencies: lat}, nil
}

// Percentile is the p-th percentile (0 <= p < 100) of r's latencies, 0 for none.
func (r Result) Percentile(p int) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	return r.Latencies[len(r.Latencies)*p/100]
}
