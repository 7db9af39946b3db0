// Command querybench measures QueryInstances and CountInstances of the SQLite store at a
// million instances, against the same queries without indexes, in the same run, and prints a
// one-line JSON summary (latency percentiles over -reps repetitions, warm cache).
//
//	go run ./store/cmd/querybench -n 1000000 -reps 200
//
// The database is created by sqlite.Open (the product's migrations, indexes and triggers) and
// then filled fast: rows are inserted with one prepared INSERT in transactions of 50,000 with
// synchronous=OFF, the triggers keeping the bookmark table and the counts, which is how a
// benchmark fills a table, not how the product writes (every Commit of the product is fsync'd).
// The store is then opened again and measured through its API:
//
//   - page_state_definition: a page of 100, Active instances of one definition;
//   - page_bookmark: a page of 100, Active instances waiting on a bookmark;
//   - page_updated_range: a page of 100 updated in the last hour of the data;
//   - page_exception: a page of 100 suspended or faulted by one exception;
//   - page_reason: a page of 100 Suspended instances whose reason contains a word;
//   - page_deep: the page after a token half way through the Active instances;
//   - count_by_state, count_by_definition: without a filter (the counts table);
//   - count_bookmark_by_state: a filter that makes the store count rows (a bookmark).
//
// The baseline runs the page and the two counts with NOT INDEXED (SQLite reads the whole table)
// and the deep page with OFFSET (an index, but the rows before the offset are walked), with
// fewer repetitions (-baseline-reps): each is a scan of the table.
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	_ "modernc.org/sqlite"

	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/store/sqlite"
	"github.com/wimp-project/wimp/workflow"
)

type summary struct {
	Instances     int                `json:"instances"`
	FillS         float64            `json:"fill_s"`
	DBMB          float64            `json:"db_mb"`
	Reps          int                `json:"reps"`
	BaselineReps  int                `json:"baseline_reps"`
	P50Ms         map[string]float64 `json:"p50_ms"`
	P99Ms         map[string]float64 `json:"p99_ms"`
	Rows          map[string]int64   `json:"rows"` // instances on the page, or counted
	BaselineP50Ms map[string]float64 `json:"baseline_p50_ms"`
	GOOS          string             `json:"goos"`
	GOARCH        string             `json:"goarch"`
	CPUs          int                `json:"cpus"`
}

var (
	definitions = []string{"ExpenseApproval", "Onboarding", "PurchaseOrder", "Leave", "Invoice", "Contract",
		"Recruiting", "Travel", "Claim", "Audit", "Refund", "Shipment"}
	versions   = []string{"1.0.0.0", "1.1.0.0", "2.0.0.0"}
	exceptions = []string{"System.TimeoutException", "System.InvalidOperationException", "OrderRejected",
		"System.Net.WebException", "WorkItemLimitExceeded"}
	bookmarks = []string{"Review", "Review", "Review", "Approve", "Approve", "Escalate"}
)

func main() {
	n := flag.Int("n", 1_000_000, "instances")
	reps := flag.Int("reps", 200, "repetitions of each measured query")
	baseReps := flag.Int("baseline-reps", 5, "repetitions of each baseline query")
	dir := flag.String("dir", "", "directory for the database (default: a temporary directory)")
	keep := flag.Bool("keep", false, "keep the database (and reuse it when -dir holds one of -n instances)")
	flag.Parse()
	if *n < 1000 || *reps < 1 || *baseReps < 1 {
		log.Fatal("querybench: -n must be at least 1000, -reps and -baseline-reps positive")
	}
	base := *dir
	if base == "" {
		d, err := os.MkdirTemp("", "querybench")
		if err != nil {
			log.Fatal(err)
		}
		base = d
	}
	if !*keep {
		defer os.RemoveAll(base)
	}
	path := filepath.Join(base, "query.db")
	ctx := context.Background()

	sum := summary{Instances: *n, Reps: *reps, BaselineReps: *baseReps, P50Ms: map[string]float64{}, P99Ms: map[string]float64{},
		Rows: map[string]int64{}, BaselineP50Ms: map[string]float64{}, GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, CPUs: runtime.NumCPU()}
	end := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	if existing(path) != *n {
		os.Remove(path)
		st, err := sqlite.Open(ctx, path)
		if err != nil {
			log.Fatal(err)
		}
		if err := st.Close(); err != nil {
			log.Fatal(err)
		}
		start := time.Now()
		if err := fill(path, *n, end); err != nil {
			log.Fatal(err)
		}
		sum.FillS = round(time.Since(start).Seconds())
	}
	if fi, err := os.Stat(path); err == nil {
		sum.DBMB = round(float64(fi.Size()) / (1 << 20))
	}

	st, err := sqlite.Open(ctx, path)
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	raw, err := sql.Open("sqlite", path+"?_pragma=query_only(1)&_pragma=busy_timeout(5000)")
	if err != nil {
		log.Fatal(err)
	}
	defer raw.Close()

	// The token half way through the Active instances (found once, not measured).
	var active int64
	if err := raw.QueryRow("SELECT SUM(n) FROM instance_counts WHERE state = 'Active'").Scan(&active); err != nil {
		log.Fatal(err)
	}
	var ms int64
	var id string
	if err := raw.QueryRow(`SELECT created, id FROM instances INDEXED BY instances_state WHERE state = 'Active'
		ORDER BY created, id LIMIT 1 OFFSET ?`, active/2).Scan(&ms, &id); err != nil {
		log.Fatal(err)
	}
	deep := store.EncodePageToken(store.PageKey{Created: time.UnixMilli(ms), ID: uuid.MustParse(id)})

	pages := []struct {
		name string
		q    func(i int) store.PageQuery
	}{
		{"page_state_definition", func(i int) store.PageQuery {
			return store.PageQuery{Filter: store.Filter{State: workflow.Active, Definition: definitions[i%len(definitions)]}}
		}},
		{"page_bookmark", func(i int) store.PageQuery {
			return store.PageQuery{Filter: store.Filter{State: workflow.Active, Bookmark: []string{"Review", "Approve", "Escalate"}[i%3]}}
		}},
		{"page_updated_range", func(int) store.PageQuery {
			return store.PageQuery{Filter: store.Filter{UpdatedAfter: end.Add(-time.Hour), UpdatedBefore: end}}
		}},
		{"page_exception", func(i int) store.PageQuery {
			return store.PageQuery{Filter: store.Filter{Exception: exceptions[i%len(exceptions)]}}
		}},
		{"page_reason", func(int) store.PageQuery {
			return store.PageQuery{Filter: store.Filter{State: workflow.Suspended, ReasonContains: "audit"}}
		}},
		{"page_deep", func(int) store.PageQuery {
			return store.PageQuery{Filter: store.Filter{State: workflow.Active}, Token: deep}
		}},
	}
	for _, p := range pages {
		var rows int
		sum.P50Ms[p.name], sum.P99Ms[p.name] = measure(*reps, func(i int) {
			page, err := st.QueryInstances(ctx, p.q(i))
			if err != nil {
				log.Fatalf("%s: %v", p.name, err)
			}
			rows = len(page.Instances)
		})
		sum.Rows[p.name] = int64(rows)
	}
	counts := []struct {
		name string
		f    store.Filter
		by   store.GroupBy
	}{
		{"count_by_state", store.Filter{}, store.GroupByState},
		{"count_by_definition", store.Filter{}, store.GroupByDefinition},
		{"count_bookmark_by_state", store.Filter{Bookmark: "Escalate"}, store.GroupByState},
	}
	for _, c := range counts {
		var total int64
		r := *reps
		if c.f.Bookmark != "" {
			r = max(*reps/10, 5) // it counts rows
		}
		sum.P50Ms[c.name], sum.P99Ms[c.name] = measure(r, func(int) {
			cs, err := st.CountInstances(ctx, c.f, c.by)
			if err != nil {
				log.Fatalf("%s: %v", c.name, err)
			}
			total = 0
			for _, x := range cs {
				total += x.N
			}
		})
		sum.Rows[c.name] = total
	}

	// Baseline: the same questions without indexes (and OFFSET for the deep page).
	const cols = `id, definition_name, definition_package, definition_version, state, completion, suspension_reason,
		suspension_exception, completion_reason, blocking_bookmarks, pending_timer, execution_status, failures, variables, created, updated`
	baseline := []struct {
		name, query string
		args        []any
	}{
		{"page_state_definition", "SELECT " + cols + ` FROM instances NOT INDEXED WHERE state = 'Active' AND definition_name = ?
			ORDER BY created, id LIMIT 101`, []any{definitions[3]}},
		{"page_deep_offset", "SELECT " + cols + ` FROM instances INDEXED BY instances_state WHERE state = 'Active'
			ORDER BY created, id LIMIT 101 OFFSET ?`, []any{active / 2}},
		{"count_by_state", "SELECT state, COUNT(*) FROM instances NOT INDEXED GROUP BY state", nil},
		{"count_by_definition", `SELECT definition_name, definition_package, definition_version, COUNT(*)
			FROM instances NOT INDEXED GROUP BY definition_name, definition_package, definition_version`, nil},
	}
	for _, b := range baseline {
		sum.BaselineP50Ms[b.name], _ = measure(*baseReps, func(int) {
			rows, err := raw.Query(b.query, b.args...)
			if err != nil {
				log.Fatalf("baseline %s: %v", b.name, err)
			}
			for rows.Next() {
			}
			if err := rows.Err(); err != nil {
				log.Fatalf("baseline %s: %v", b.name, err)
			}
			rows.Close()
		})
	}
	out, _ := json.Marshal(sum)
	fmt.Println(string(out))
}

// measure runs f reps times (after one warm-up run) and returns the median and 99th
// percentile latency in milliseconds.
func measure(reps int, f func(i int)) (p50, p99 float64) {
	f(0)
	ds := make([]time.Duration, reps)
	for i := range reps {
		t := time.Now()
		f(i)
		ds[i] = time.Since(t)
	}
	slices.Sort(ds)
	at := func(q float64) float64 {
		return round(float64(ds[min(len(ds)-1, int(q*float64(len(ds))))].Microseconds()) / 1000)
	}
	return at(0.5), at(0.99)
}

func round(x float64) float64 {
	switch {
	case x >= 100:
		return float64(int64(x + 0.5))
	case x >= 1:
		return float64(int64(x*10+0.5)) / 10
	}
	return float64(int64(x*1000+0.5)) / 1000
}

// existing returns how many instances the database at path holds (0 if none).
func existing(path string) int {
	if _, err := os.Stat(path); err != nil {
		return 0
	}
	db, err := sql.Open("sqlite", path+"?_pragma=query_only(1)")
	if err != nil {
		return 0
	}
	defer db.Close()
	var n sql.NullInt64
	if db.QueryRow("SELECT SUM(n) FROM instance_counts").Scan(&n) != nil {
		return 0
	}
	return int(n.Int64)
}

// fill inserts n instances created over the year before end, in transactions of 50,000.
func fill(path string, n int, end time.Time) error {
	db, err := sql.Open("sqlite", path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(OFF)&_pragma=cache_size(-262144)")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	r := rand.New(rand.NewPCG(42, 7))
	year := int64(365 * 24 * time.Hour / time.Millisecond)
	startMS := end.UnixMilli() - year
	image := make([]byte, 256)
	const batch = 50_000
	for from := 0; from < n; from += batch {
		tx, err := db.Begin()
		if err != nil {
			return err
		}
		st, err := tx.Prepare(`INSERT INTO instances (id, definition_name, definition_package, definition_version, version_key,
			state, completion, suspension_reason, suspension_exception, completion_reason, completion_exception,
			blocking_bookmarks, pending_timer, execution_status, failures, image, variables, version, lease_owner, lease_token,
			created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, 1, '', 0, ?, ?)`)
		if err != nil {
			return err
		}
		for i := from; i < min(from+batch, n); i++ {
			created := startMS + int64(i)*year/int64(n) + r.Int64N(1000)
			updated := created + r.Int64N(min(30*24*3600*1000, end.UnixMilli()-created+1))
			def := definitions[min(r.IntN(len(definitions)), r.IntN(len(definitions)))] // the first ones are busier
			version := versions[min(r.IntN(len(versions)), r.IntN(len(versions)))]
			pkg := "acme"
			if def == "ExpenseApproval" {
				pkg = "wimp.samples"
			}
			var state, completion, reason, susExc, compReason, compExc, status string
			bms := "[]"
			var timer any
			var img any
			switch x := r.IntN(100); {
			case x < 40:
				state, status, img = "Active", "Idle", image
				b := bookmarks[r.IntN(len(bookmarks))]
				bms = `["` + b + `"]`
				if r.IntN(10) == 0 {
					bms = `["` + b + `","Escalate"]`
				}
				timer = updated + r.Int64N(10*24*3600*1000)
			case x < 45:
				state, status, img = "Suspended", "Idle", image
				if r.IntN(2) == 0 {
					susExc = exceptions[r.IntN(len(exceptions))]
					reason = "unhandled " + susExc
				} else {
					reason = fmt.Sprintf("audit by user%d", r.IntN(100))
				}
				bms = `["Review"]`
			default:
				state = "Completed"
				switch y := r.IntN(20); {
				case y < 16:
					completion = "Closed"
				case y < 17:
					completion = "Canceled"
				case y < 19:
					completion, compReason = "Terminated", "terminated by an operator"
				default:
					completion, compExc = "Faulted", exceptions[r.IntN(4)]
					compReason = "the activity failed"
				}
				status = completion
			}
			if _, err := st.Exec(uuid.NewString(), def, pkg, version, store.VersionKey(version), state, completion, reason, susExc,
				compReason, compExc, bms, timer, status, img, fmt.Sprintf(`{"amount":%d}`, r.IntN(5000)), created, updated); err != nil {
				return err
			}
		}
		st.Close()
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	_, err = db.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	if err != nil && !strings.Contains(err.Error(), "locked") {
		return err
	}
	return nil
}
