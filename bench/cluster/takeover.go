package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/bench/internal/report"
	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/hosting"
	"github.com/wimp-project/wimp/workflow"
)

// napDefinition waits on one durable timer and completes: its Completed record is when the
// timer fired.
const napDefinition = `<Workflow Name="BenchNap" Package="wimp.bench" Version="1.0.0.0">
  <Arguments><In Name="period" Type="String" Required="true"/></Arguments>
  <Sequence Id="main"><Delay Id="nap" Duration="[period]"/></Sequence>
</Workflow>
`

// nap is one BenchNap instance created on a node that was killed right after.
type nap struct {
	id  uuid.UUID
	due time.Time
}

// takeover runs kills kill -9/restart cycles on three nodes with the given lease and reports
// how long after the kill (or the due time, if later) the victims' timers fired elsewhere.
func (b *bench) takeover(lease time.Duration, kills, timers int, due time.Duration) (map[string]any, error) {
	defs := filepath.Join(b.dir, "definitions")
	if err := os.MkdirAll(defs, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(defs, "BenchNap.xml"), []byte(napDefinition), 0o644); err != nil {
		return nil, err
	}
	url, drop, err := freshDatabase(b.pg)
	if err != nil {
		return nil, err
	}
	defer drop()
	args := []string{"--db", url, "--lease", lease.String(), "--definitions", defs}
	nodes, err := b.startNodes(3, "takeover", args...)
	if err != nil {
		return nil, err
	}
	defer func() { stopAll(nodes) }()
	var all, afterKill []time.Duration
	for k := range kills {
		victim := k % len(nodes)
		naps, err := createNaps(nodes[victim].url, timers, due)
		if err != nil {
			return nil, err
		}
		killed := nodes[victim].kill9()
		report.Progress("takeover %d: killed %s with %d timers due in %v", k+1, nodes[victim].name, timers, due)
		var survivors []string
		for i, n := range nodes {
			if i != victim {
				survivors = append(survivors, n.url)
			}
		}
		took, fired, err := awaitNaps(survivors, naps, killed, lease)
		if err != nil {
			return nil, fmt.Errorf("cycle %d (%s killed): %w", k+1, nodes[victim].name, err)
		}
		report.Progress("takeover %d: fired on the survivors %v after the kill, %v after the later of the kill and the due time", k+1, fired, took)
		all = append(all, took...)
		afterKill = append(afterKill, fired...)
		restarted, err := startNode(b.bin, filepath.Join(b.dir, "takeover.log"), nodes[victim].name, append(args, "--trusted-proxies", "127.0.0.1/32")...)
		if err != nil {
			return nil, err
		}
		nodes[victim] = restarted
	}
	late, fired := seconds(all), seconds(afterKill)
	return map[string]any{
		"lease_s": lease.Seconds(), "due_s": due.Seconds(), "bound_s": report.Round((lease + lease/3).Seconds()), "kills": kills,
		"instances": len(all), "fired_exactly_once": len(all),
		"after_kill_s": fired, "after_kill_median_s": fired[len(fired)/2], "after_kill_max_s": fired[len(fired)-1],
		"late_s": late, "late_median_s": late[len(late)/2], "late_max_s": late[len(late)-1],
	}, nil
}

// seconds is ds sorted, in seconds, rounded.
func seconds(ds []time.Duration) []float64 {
	slices.Sort(ds)
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = report.Round(d.Seconds())
	}
	return out
}

// createNaps creates n BenchNap instances on base, each due after d, and reads back their due
// times.
func createNaps(base string, n int, d time.Duration) ([]nap, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := hosting.NewClient(base + "/WorkflowHosting")
	naps := make([]nap, n)
	for i := range naps {
		id, err := c.Create(ctx, host.CreateRequest{Definition: "BenchNap", Version: "1.0.0.0", Inputs: map[string]any{"period": d.String()}})
		if err != nil {
			return nil, fmt.Errorf("creating a BenchNap on %s: %w", base, err)
		}
		inst, err := c.GetInstance(ctx, id)
		if err != nil {
			return nil, err
		}
		if inst.PendingTimer == nil || inst.State != workflow.Active {
			return nil, fmt.Errorf("a new BenchNap on %s is %s with no pending timer", base, inst.State)
		}
		naps[i] = nap{id: id, due: *inst.PendingTimer}
	}
	return naps, nil
}

// awaitNaps waits (bounded: ten leases past the last due time) until every nap has completed,
// asking random survivors, checks each completed exactly once, and returns for each the time
// of its Completed record after the later of killed and its due time, and after killed.
func awaitNaps(survivors []string, naps []nap, killed time.Time, lease time.Duration) (late, afterKill []time.Duration, err error) {
	last := killed
	for _, n := range naps {
		last = later(last, n.due)
	}
	deadline := last.Add(10 * lease)
	for _, n := range naps {
		for {
			c := hosting.NewClient(survivors[rand.IntN(len(survivors))] + "/WorkflowHosting")
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			inst, err := c.GetInstance(ctx, n.id)
			var recs []hosting.Record
			if err == nil && inst.State == workflow.Completed {
				recs, err = c.TrackingRecords(ctx, n.id, 0)
			}
			cancel()
			if err == nil && inst.State == workflow.Completed {
				var done []time.Time
				for _, r := range recs {
					if r.Kind == string(workflow.InstanceRecord) && r.Name == "Completed" {
						done = append(done, r.Time)
					}
				}
				if len(done) != 1 || inst.Completion != "Closed" {
					return nil, nil, fmt.Errorf("%s completed %s with %d Completed records, want Closed and 1", n.id, inst.Completion, len(done))
				}
				if !done[0].After(killed) {
					return nil, nil, fmt.Errorf("%s completed at %v, before its node was killed at %v: make -due longer", n.id, done[0], killed)
				}
				late = append(late, done[0].Sub(later(killed, n.due)))
				afterKill = append(afterKill, done[0].Sub(killed))
				break
			}
			if time.Now().After(deadline) {
				return nil, nil, fmt.Errorf("%s had not completed %v after its due time (last: %v, %v)", n.id, 10*lease, inst, err)
			}
			time.Sleep(20 * time.Millisecond) // the polling interval
		}
	}
	return late, afterKill, nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
