// Command churnbench shows that the SQLite database stays bounded under a steady
// create/complete/purge load: it runs an hour (by default) of simulated churn through the
// store's API and prints the database's size as it goes, and a one-line JSON summary.
//
//	go run ./store/cmd/churnbench -rate 20 -lifetime 5m -retention 10m -duration 1h
//
// Each simulated second, -rate instances are created (each with an execution image of -image
// bytes, variables and two tracking records, about what a waiting ExpenseApproval stores), the
// instances created -lifetime earlier complete (two more records each), and every simulated
// minute the completed instances older than -retention are purged as the host's retention does
// (store.Purge changes, 100 per transaction). The store's clock is simulated, so an hour of
// churn takes seconds; every Commit is still a durable SQLite transaction. A second's creations
// and completions are one Commit each, as the host's group commit would batch them under load.
//
// Sizes are of the database file plus its WAL. SQLite reuses the pages freed by purged rows, so
// the file grows until the live set (rate × (lifetime + retention) instances) is reached and then
// stays level: no VACUUM is needed for a steady load (a VACUUM would only return the space of a
// peak that is gone).
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/store/sqlite"
	"github.com/wimp-project/wimp/workflow"
)

type sample struct {
	Minute int     `json:"minute"`
	Live   int     `json:"live_instances"`
	MB     float64 `json:"db_mb"`
}

type summary struct {
	Rate         int      `json:"rate_per_s"`
	LifetimeS    float64  `json:"lifetime_s"`
	RetentionS   float64  `json:"retention_s"`
	DurationS    float64  `json:"duration_s"`
	Created      int      `json:"created"`
	Purged       int      `json:"purged"`
	Samples      []sample `json:"samples"`
	SteadyMB     float64  `json:"steady_mb"`      // size when the live set was first reached
	FinalMB      float64  `json:"final_mb"`       // size at the end
	GrowthRatio  float64  `json:"growth_ratio"`   // final / steady: ~1 means bounded
	BytesPerLive float64  `json:"bytes_per_live"` // final size / live instances at the end
	WallS        float64  `json:"wall_s"`
}

func main() {
	rate := flag.Int("rate", 20, "instances created per simulated second")
	lifetime := flag.Duration("lifetime", 5*time.Minute, "how long an instance lives before it completes")
	retention := flag.Duration("retention", 10*time.Minute, "how long a completed instance is kept before it is purged")
	duration := flag.Duration("duration", time.Hour, "simulated time to run")
	imageSize := flag.Int("image", 3000, "bytes of each instance's execution image")
	dir := flag.String("dir", "", "directory for the database (default: a temporary one)")
	flag.Parse()
	if err := run(*rate, *lifetime, *retention, *duration, *imageSize, *dir); err != nil {
		log.Fatal(err)
	}
}

func run(rate int, lifetime, retention, duration time.Duration, imageSize int, dir string) error {
	ctx := context.Background()
	if dir == "" {
		d, err := os.MkdirTemp("", "churnbench")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	path := filepath.Join(dir, "churn.db")
	var simNS atomic.Int64
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	simNS.Store(start.UnixNano())
	now := func() time.Time { return time.Unix(0, simNS.Load()).UTC() }
	st, err := sqlite.Open(ctx, path, sqlite.WithClock(now))
	if err != nil {
		return err
	}
	defer st.Close()

	image := make([]byte, imageSize)
	_, _ = rand.Read(image) // incompressible, like a real image as far as pages go
	vars := []byte(`{"amount":120,"submitter":"churn","status":"Pending","approvals":0,"escalations":0,"required":1}`)
	type born struct {
		in *store.Instance
		at time.Time
	}
	var queue []born // created, not completed yet, oldest first
	sum := summary{Rate: rate, LifetimeS: lifetime.Seconds(), RetentionS: retention.Seconds(), DurationS: duration.Seconds()}
	began := time.Now()
	steadyAt := lifetime + retention + time.Minute
	live := 0
	for sec := 1; time.Duration(sec)*time.Second <= duration; sec++ {
		simNS.Store(start.Add(time.Duration(sec) * time.Second).UnixNano())
		t := now()
		var creates []store.Change
		for range rate {
			in := &store.Instance{ID: uuid.New(), State: workflow.Active, ExecutionStatus: "Idle",
				Definition: workflow.Identity{Name: "ExpenseApproval", Package: "wimp.samples", Version: "1.0.0.0"},
				Bookmarks:  []string{"Review"}, Image: image, Variables: vars}
			creates = append(creates, store.Change{Op: store.Insert, Instance: in, Records: []workflow.Record{
				{Kind: workflow.InstanceRecord, Name: "Started"},
				{Kind: workflow.InstanceRecord, Name: "Persisted"}}})
			queue = append(queue, born{in, t})
		}
		if err := st.Commit(ctx, creates...); err != nil {
			return err
		}
		sum.Created += rate
		live += rate
		var completes []store.Change
		for len(queue) > 0 && !queue[0].at.Add(lifetime).After(t) {
			in := queue[0].in
			queue = queue[1:]
			in.State, in.Completion, in.ExecutionStatus, in.Bookmarks, in.Image = workflow.Completed, workflow.Closed, "Closed", nil, nil
			completes = append(completes, store.Change{Op: store.Update, Instance: in, Records: []workflow.Record{
				{Kind: workflow.InstanceRecord, Name: "Completed"},
				{Kind: workflow.InstanceRecord, Name: "Persisted"}}})
		}
		if err := st.Commit(ctx, completes...); err != nil {
			return err
		}
		if sec%60 != 0 {
			continue
		}
		n, err := purge(ctx, st, t.Add(-retention))
		if err != nil {
			return err
		}
		sum.Purged += n
		live -= n
		mb, err := sizeMB(path)
		if err != nil {
			return err
		}
		minute := sec / 60
		sum.Samples = append(sum.Samples, sample{minute, live, mb})
		fmt.Fprintf(os.Stderr, "minute %3d: %6d instances, %7.2f MB\n", minute, live, mb)
		if time.Duration(sec)*time.Second >= steadyAt && sum.SteadyMB == 0 {
			sum.SteadyMB = mb
		}
		sum.FinalMB = mb
		sum.BytesPerLive = mb * 1e6 / float64(max(live, 1))
	}
	if sum.SteadyMB > 0 {
		sum.GrowthRatio = sum.FinalMB / sum.SteadyMB
	}
	sum.WallS = time.Since(began).Seconds()
	return json.NewEncoder(os.Stdout).Encode(sum)
}

// purge deletes the Completed instances updated before cut, 100 per transaction, as the host's
// retention does.
func purge(ctx context.Context, st store.Store, cut time.Time) (int, error) {
	total := 0
	q := store.PageQuery{Filter: store.Filter{State: workflow.Completed, UpdatedBefore: cut}, Size: 100}
	for {
		page, err := st.QueryInstances(ctx, q)
		if err != nil {
			return total, err
		}
		var changes []store.Change
		for _, in := range page.Instances {
			changes = append(changes, store.Change{Op: store.Purge, Instance: &store.Instance{ID: in.ID}})
		}
		if err := st.Commit(ctx, changes...); err != nil {
			return total, err
		}
		total += len(changes)
		if page.Next == "" {
			return total, nil
		}
		q.Token = page.Next
	}
}

func sizeMB(path string) (float64, error) {
	var total int64
	for _, p := range []string{path, path + "-wal"} {
		fi, err := os.Stat(p)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return 0, err
		}
		total += fi.Size()
	}
	return float64(total) / 1e6, nil
}
