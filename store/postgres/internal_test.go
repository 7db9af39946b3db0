package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/store/postgres/pgtest"
	"github.com/wimp-project/wimp/store/storetest"
	"github.com/wimp-project/wimp/workflow"
)

var bg = context.Background()

// The whole suite with no fast path: every request takes the full path (lock, read, decide,
// write), which otherwise only multi-change commits and fast statements that missed take.
func TestPostgresFullPath(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) store.Store {
		return openTest(t, pgtest.Fresh(t), WithClock(now), func(o *options) { o.noFast = true })
	})
}

func openTest(t *testing.T, url string, opts ...Option) *Store {
	t.Helper()
	s, err := Open(bg, url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(bg, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// openTx begins a transaction on a connection of its own that inserts an owner row, and
// returns the connection, the transaction's id and its server process id.
func openTx(t *testing.T, url, owner string) (*pgx.Conn, int64, uint32) {
	t.Helper()
	c := connect(t, url)
	var xid int64
	if _, err := c.Exec(bg, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(bg, "INSERT INTO owners (id, registered, renewed, expiry) VALUES ($1, now(), now(), now())", owner); err != nil {
		t.Fatal(err)
	}
	if err := c.QueryRow(bg, xidSQL).Scan(&xid); err != nil {
		t.Fatal(err)
	}
	return c, xid, c.PgConn().PID()
}

// resolve tells a committed transaction from one that never got its COMMIT (it ends the
// session that still holds it open) and from a rolled back one.
func TestResolve(t *testing.T) {
	url := pgtest.Fresh(t)
	s := openTest(t, url)

	c, xid, pid := openTx(t, url, "committed")
	if _, err := c.Exec(bg, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.resolve(xid, pid); err != nil || !ok {
		t.Fatalf("resolve of a committed transaction = %v, %v", ok, err)
	}

	c, xid, pid = openTx(t, url, "rolled back")
	if _, err := c.Exec(bg, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.resolve(xid, pid); err != nil || ok {
		t.Fatalf("resolve of a rolled back transaction = %v, %v", ok, err)
	}

	c, xid, pid = openTx(t, url, "open")
	if ok, err := s.resolve(xid, pid); err != nil || ok {
		t.Fatalf("resolve of a transaction still open = %v, %v; want false (it is ended)", ok, err)
	}
	if err := c.Ping(bg); err == nil {
		t.Fatal("the session of the open transaction is still alive after resolve")
	}
	var n int
	if err := connect(t, url).QueryRow(bg, "SELECT COUNT(*) FROM owners").Scan(&n); err != nil || n != 1 {
		t.Fatalf("owners = %d, %v; want only the committed one", n, err)
	}
}

// The writers' connections are ended again and again (30 times) while commits go on: every commit that
// returned nil is there, every one that failed is not (a failure is the write timeout, or the
// outcome-unknown error, which is then the one that may be either).
func TestWriterConnectionsKilled(t *testing.T) {
	url := pgtest.Fresh(t)
	s := openTest(t, url, WithWriters(2), WithWriteTimeout(3*time.Second))
	admin := connect(t, url)
	// The workers insert until the killer has ended 30 writer sessions (or 20 s have passed),
	// so that the kills fall among commits however fast the machine is.
	stop := make(chan struct{})
	var killer sync.WaitGroup
	kills := 0
	killer.Go(func() {
		defer close(stop)
		deadline := time.After(20 * time.Second)
		for kills < 30 {
			select {
			case <-deadline:
				return
			case <-time.After(time.Duration(20+rand.IntN(40)) * time.Millisecond): // kill at random moments
			}
			var n int
			if err := admin.QueryRow(bg, `SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity
				WHERE datname = current_database() AND application_name = $1`, writerAppName).Scan(&n); err != nil {
				t.Error(err)
				return
			}
			kills += n
		}
	})
	const workers = 8
	ins := make([][]*store.Instance, workers)
	errs := make([][]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				in := &store.Instance{ID: uuid.New(), State: workflow.Active}
				err := s.Commit(bg, store.Change{Op: store.Insert, Instance: in,
					Records: []workflow.Record{{Kind: workflow.InstanceRecord, Name: "Started"}}})
				ins[w], errs[w] = append(ins[w], in), append(errs[w], err)
			}
		})
	}
	wg.Wait()
	killer.Wait()
	acked, unknown, total := 0, 0, 0
	for w := range workers {
		for i, in := range ins[w] {
			total++
			_, gerr := s.Get(bg, in.ID)
			switch err := errs[w][i]; {
			case err == nil:
				acked++
				if gerr != nil {
					t.Fatalf("acknowledged insert lost: %v", gerr)
				}
			case errors.Is(err, errOutcomeUnknown):
				unknown++
			case errors.Is(err, store.ErrTimeout):
				if !errors.Is(gerr, store.ErrNotFound) || in.Version != 0 {
					t.Fatalf("insert that timed out was applied (or wrote back version %d): %v", in.Version, gerr)
				}
			default:
				t.Fatalf("insert: %v", err)
			}
		}
	}
	st := s.Stats()
	t.Logf("%d connections killed; %d of %d inserts acknowledged, %d unknown; %d COMMITs resolved; stats %+v",
		kills, acked, total, unknown, st.Resolved, st)
	if kills == 0 || st.Retries == 0 {
		t.Fatalf("no writer connection was killed while writing (kills %d, retries %d)", kills, st.Retries)
	}
}

// Counts stay right while their deltas are compacted often, and compaction keeps the table
// near one row per group.
func TestCountsCompaction(t *testing.T) {
	url := pgtest.Fresh(t)
	s := openTest(t, url, func(o *options) { o.compactEvery = 40 })
	r := rand.New(rand.NewPCG(1, 2))
	var live []*store.Instance
	for range 400 {
		switch op := r.IntN(3); {
		case op == 0 || len(live) == 0:
			in := &store.Instance{ID: uuid.New(), State: []workflow.State{workflow.Active, workflow.Suspended}[r.IntN(2)],
				Definition: workflow.Identity{Name: []string{"A", "B"}[r.IntN(2)], Version: "1.0"}}
			if err := s.Commit(bg, store.Change{Op: store.Insert, Instance: in}); err != nil {
				t.Fatal(err)
			}
			live = append(live, in)
		case op == 1:
			in := live[r.IntN(len(live))]
			in.State = []workflow.State{workflow.Active, workflow.Suspended, workflow.Completed}[r.IntN(3)]
			if err := s.Commit(bg, store.Change{Op: store.Update, Instance: in}); err != nil {
				t.Fatal(err)
			}
		default:
			i := r.IntN(len(live))
			if err := s.Commit(bg, store.Change{Op: store.Delete, Instance: live[i]}); err != nil {
				t.Fatal(err)
			}
			live = slices.Delete(live, i, i+1)
		}
	}
	want := map[store.Count]int64{}
	for _, in := range live {
		want[store.GroupKey(in, store.GroupByState)]++
	}
	got, err := s.CountInstances(bg, store.Filter{}, store.GroupByState)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range got {
		if want[store.Count{State: c.State}] != c.N {
			t.Fatalf("counts %+v, want %v", got, want)
		}
		delete(want, store.Count{State: c.State})
	}
	if len(want) != 0 {
		t.Fatalf("counts %+v miss %v", got, want)
	}
	st := s.Stats()
	if st.Compactions < 5 || st.CompactionErrors != 0 {
		t.Fatalf("compactions %d (errors %d), want several", st.Compactions, st.CompactionErrors)
	}
	var rows int
	if err := connect(t, url).QueryRow(bg, "SELECT COUNT(*) FROM instance_counts").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	// 6 groups at most (2 definitions, 3 states), plus at most two deltas per change since the
	// last compaction.
	if rows > 6+2*40 {
		t.Fatalf("instance_counts has %d rows after compactions", rows)
	}
}

// planNode is a node of an EXPLAIN (FORMAT JSON) plan, with what the checks read.
type planNode struct {
	NodeType  string     `json:"Node Type"`
	Relation  string     `json:"Relation Name"`
	IndexName string     `json:"Index Name"`
	Plans     []planNode `json:"Plans"`
}

// planOf returns the nodes of query's plan, depth first, and the plan as text.
func planOf(t *testing.T, c *pgx.Conn, query string, args ...any) ([]planNode, string) {
	t.Helper()
	var raw []json.RawMessage
	if err := c.QueryRow(bg, "EXPLAIN (FORMAT JSON) "+query, args...).Scan(&raw); err != nil {
		t.Fatalf("EXPLAIN %s: %v", query, err)
	}
	var top struct{ Plan planNode }
	if err := json.Unmarshal(raw[0], &top); err != nil {
		t.Fatal(err)
	}
	var nodes []planNode
	var walk func(n planNode)
	walk = func(n planNode) {
		nodes = append(nodes, n)
		for _, c := range n.Plans {
			walk(c)
		}
	}
	walk(top.Plan)
	return nodes, string(raw[0])
}

// The queries a host runs all the time are answered from indexes on a table of realistic
// size: no sequential scan of instances or records, and no sort where the index gives the
// order (a page then stops after its size, wherever it is in the result).
func TestQueryPlans(t *testing.T) {
	url := pgtest.Fresh(t)
	s := openTest(t, url)
	c := connect(t, url)
	// 30,000 instances: mostly Completed, some Active (waiting on a bookmark all of them share
	// and one that 3 share), some with timers, a few suspended by an exception, a few
	// executing, 600 children of 10 parents; 90,000 records. Written directly: the plans are
	// the point.
	if _, err := c.Exec(bg, `INSERT INTO instances (id, definition_name, definition_package, definition_version,
		version_key, state, completion, suspension_exception, blocking_bookmarks, pending_timer, execution_status,
		lease_owner, version, created, updated, parent)
		SELECT gen_random_uuid(), 'Def' || (g % 50), 'pkg', '1.0', '0000000200000001ffffffffffffffff',
			CASE WHEN g % 10 = 0 THEN 'Active' WHEN g % 97 = 0 THEN 'Suspended' ELSE 'Completed' END,
			CASE WHEN g % 10 = 0 OR g % 97 = 0 THEN '' ELSE 'Closed' END,
			CASE WHEN g % 97 = 0 THEN 'X' || (g % 3) ELSE '' END,
			CASE WHEN g % 10 = 0 THEN ARRAY['bm' || (g % 1000), 'common'] ELSE '{}' END,
			CASE WHEN g % 20 = 0 THEN now() + g * interval '1 second' END,
			CASE WHEN g % 1000 = 0 THEN 'Executing' ELSE 'Idle' END,
			CASE WHEN g % 500 = 0 THEN 'owner' || (g % 3) ELSE '' END,
			1, now() - g * interval '1 second', now() - g * interval '1 second',
			CASE WHEN g % 50 = 7 THEN ('00000000-0000-4000-8000-0000000000' || lpad(((g / 50) % 10)::text, 2, '0'))::uuid END
		FROM generate_series(1, 30000) AS g`); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(bg, `INSERT INTO tracking_records (instance_id, time, kind)
		SELECT id, created + k * interval '1 ms', 'Instance' FROM instances, generate_series(1, 3) AS k`); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(bg, "ANALYZE"); err != nil {
		t.Fatal(err)
	}
	var some store.Instance
	if err := c.QueryRow(bg, "SELECT id, created FROM instances ORDER BY created, id OFFSET 15000 LIMIT 1").Scan(&some.ID, &some.Created); err != nil {
		t.Fatal(err)
	}
	key := &store.PageKey{Created: some.Created, ID: some.ID}
	parent := uuid.MustParse("00000000-0000-4000-8000-000000000003")
	now := time.Now()
	type check struct {
		name   string
		query  string
		args   []any
		index  string // an index the plan must use (or one of several, separated by |)
		sorted bool   // the plan may sort (the index does not give the order)
	}
	checks := []check{
		{name: "next timer", query: `SELECT pending_timer FROM instances WHERE state = 'Active' AND pending_timer IS NOT NULL
			ORDER BY pending_timer LIMIT 1`, index: "instances_due_timer"},
		{name: "pending timers", query: pendingTimersSQL, index: "instances_due_timer"},
		{name: "claim due", query: claimDueSQL, args: []any{"o", now, now, int64(10)}, index: "instances_due_timer"},
		// The interrupted executions and one instance's records are few: sorting them is fine.
		{name: "claim runnable", query: claimRunnableSQL, args: []any{"o", now, now, int64(10)}, index: "instances_runnable", sorted: true},
		{name: "grant", query: grantSQL, args: []any{"o", []uuid.UUID{some.ID}, now}, index: "instances_pkey"},
		{name: "unregister", query: `UPDATE instances SET lease_owner = '' WHERE lease_owner = $1 AND lease_owner <> ''`,
			args: []any{"owner1"}, index: "instances_lease"},
		{name: "records", query: `SELECT seq FROM tracking_records WHERE instance_id = $1 AND seq > $2 ORDER BY seq`,
			args: []any{some.ID, int64(0)}, index: "tracking_records_instance", sorted: true},
		{name: "purge records", query: `SELECT r.seq FROM tracking_records AS r JOIN instances AS i ON i.id = r.instance_id
			WHERE r.time < $1 AND i.state IN ('Active', 'Suspended') ORDER BY r.time LIMIT $2 FOR UPDATE OF r SKIP LOCKED`,
			args: []any{now.Add(-29000 * time.Second), int64(100)}, index: "tracking_records_time", sorted: true},
	}
	for _, f := range []struct {
		name   string
		f      store.Filter
		index  string
		sorted bool
	}{
		{"all", store.Filter{}, "instances_created", false},
		{"state", store.Filter{State: workflow.Suspended}, "instances_state", false},
		{"definition", store.Filter{Definition: "Def7"}, "instances_definition", false},
		{"state and definition", store.Filter{State: workflow.Active, Definition: "Def7"}, "instances_state_definition", false},
		{"exception", store.Filter{Exception: "X1"}, "instances_exception", false},
		{"bookmark", store.Filter{Bookmark: "common"}, "instance_bookmarks_pkey", false},
		{"created range", store.Filter{CreatedAfter: now.Add(-2 * time.Hour), CreatedBefore: now.Add(-time.Hour)}, "instances_created", false},
		{"updated range", store.Filter{UpdatedAfter: now.Add(-2 * time.Minute)}, "instances_updated", true},
		// A parent's children are few: sorting them is fine.
		{"parent", store.Filter{Parent: parent}, "instances_parent", true},
		{"parent and state", store.Filter{Parent: parent, State: workflow.Completed}, "instances_parent", true},
		{"parent and bookmark", store.Filter{Parent: parent, Bookmark: "common"}, "instances_parent", true},
		// Every child: the planner weighs reading them all (instances_parent holds nothing
		// else) and sorting against reading in order until a page of them.
		{"child", store.Filter{HasParent: true}, "instances_parent|instances_created", true},
		{"child and state", store.Filter{HasParent: true, State: workflow.Active}, "instances_parent|instances_state", true},
	} {
		for _, after := range []*store.PageKey{nil, key} {
			q, args := pageSQL(f.f, after, 101, false)
			checks = append(checks, check{name: fmt.Sprintf("page by %s (after key: %v)", f.name, after != nil),
				query: q, args: args, index: f.index, sorted: f.sorted})
		}
	}
	for _, f := range []struct {
		name  string
		f     store.Filter
		index string
	}{
		{"bookmark", store.Filter{Bookmark: "bm10"}, "instance_bookmarks_pkey"},
		{"exception and reason", store.Filter{Exception: "X1", ReasonContains: "x"}, "instances_exception"},
	} {
		q, args := countSQL(f.f, store.GroupByState)
		checks = append(checks, check{name: "count by " + f.name, query: q, args: args, index: f.index, sorted: true})
	}
	big := map[string]bool{"instances": true, "tracking_records": true, "instance_bookmarks": true}
	for _, ch := range checks {
		nodes, plan := planOf(t, c, ch.query, ch.args...)
		used, scans, sorts := false, "", false
		for _, n := range nodes {
			used = used || n.IndexName != "" && slices.Contains(strings.Split(ch.index, "|"), n.IndexName)
			if n.NodeType == "Seq Scan" && big[n.Relation] {
				scans = n.Relation
			}
			sorts = sorts || n.NodeType == "Sort"
		}
		switch {
		case !used:
			t.Errorf("%s: the plan does not use %s:\n%s", ch.name, ch.index, plan)
		case scans != "":
			t.Errorf("%s: the plan reads all of %s:\n%s", ch.name, scans, plan)
		case !ch.sorted && sorts:
			t.Errorf("%s: the plan sorts:\n%s", ch.name, plan)
		}
	}
	// The store itself reads through the same plans.
	if _, err := s.QueryInstances(bg, store.PageQuery{Filter: store.Filter{Bookmark: "bm10"}}); err != nil {
		t.Fatal(err)
	}
}

// A fast statement that pgx cannot even send (here: an argument it cannot encode) breaks the
// whole pipeline; the batch goes again without fast paths, where the request that broke it
// fails alone and its batch-mates are applied.
func TestFastPipelineBroken(t *testing.T) {
	s := openTest(t, pgtest.Fresh(t))
	broken := &request{
		fast: func(now time.Time) *fastWrite {
			return &fastWrite{sql: "SELECT $1::bigint, ARRAY[]::bigint[]", args: []any{make(chan int)}, finish: func([]int64) {}}
		},
		apply: func(t *tx) error {
			_, err := t.exec("SELECT $1::bigint", make(chan int))
			return err
		},
	}
	var wg sync.WaitGroup
	ins := make([]*store.Instance, 20)
	recs := make([][]workflow.Record, len(ins))
	errs := make([]error, len(ins))
	var brokenErr error
	// Queued together, so that they share a batch.
	release := s.queue.Hold()
	for i := range ins {
		ins[i] = &store.Instance{ID: uuid.New(), State: workflow.Active}
		recs[i] = []workflow.Record{{Kind: workflow.InstanceRecord, Name: "Started"}}
		wg.Go(func() { errs[i] = s.Commit(bg, store.Change{Op: store.Insert, Instance: ins[i], Records: recs[i]}) })
	}
	wg.Go(func() { brokenErr = s.submit(bg, broken) })
	release()
	wg.Wait()
	if brokenErr == nil || errors.Is(brokenErr, store.ErrTimeout) {
		t.Fatalf("the request that cannot be encoded: %v, want its own error", brokenErr)
	}
	t.Logf("the broken request: %v; stats %+v", brokenErr, s.Stats())
	for i, in := range ins {
		if errs[i] != nil {
			t.Fatalf("insert %d sharing the batch: %v", i, errs[i])
		}
		if got, err := s.Get(bg, in.ID); err != nil || got.Version != 1 || in.Version != 1 {
			t.Fatalf("insert %d: %+v, %v (written back version %d)", i, got, err, in.Version)
		}
		if rs, err := s.Records(bg, in.ID, 0); err != nil || len(rs) != 1 || rs[0].Seq != recs[i][0].Seq {
			t.Fatalf("records of insert %d: %+v, %v", i, rs, err)
		}
	}
}
