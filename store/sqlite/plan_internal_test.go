package sqlite

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/workflow"
)

// explain returns EXPLAIN QUERY PLAN's detail lines for query.
func explain(t *testing.T, s *Store, query string, args []any) []string {
	t.Helper()
	rows, err := s.rdb.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatalf("EXPLAIN QUERY PLAN %s: %v", query, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		out = append(out, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestQueryPlans pins, with EXPLAIN QUERY PLAN, the index each main filter of QueryInstances
// and CountInstances reads (sourceFor): none scans the instances table, and every page but the
// updated range's and every child's is read in (created, id) order, so that it stops after its
// size and a page after a token starts at the token's key. With these plans a page of 100 and
// a count by state answer in milliseconds at 1,000,000 instances (README, Performance:
// store/cmd/querybench).
func TestQueryPlans(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "plans.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// CountInstances reads summarySQL for these (and any filter on only their columns).
	if f := (store.Filter{State: workflow.Suspended, Completion: workflow.Faulted, Definition: "X", Package: "p", Version: "1.0",
		VersionMin: "1.0", VersionMax: "2.0", Exception: "E"}); !f.Summarizable() {
		t.Fatal("a filter on state, completion, definition and exception is not counted from instance_counts")
	}
	key := &store.PageKey{Created: time.Now(), ID: uuid.New()}
	from, to := time.Now().Add(-time.Hour), time.Now()
	const byID = "SEARCH i USING INDEX sqlite_autoindex_instances_1 (id=?)"
	for _, c := range []struct {
		name  string
		query string
		args  []any
		want  []string
	}{
		{name: "page by state", want: []string{"SEARCH i USING INDEX instances_state (state=?)"}},
		{name: "page by state after a token", want: []string{"SEARCH i USING INDEX instances_state (state=? AND (created,id)>(?,?))"}},
		{name: "page by state and definition", want: []string{"SEARCH i USING INDEX instances_state_definition (state=? AND definition_name=?)"}},
		{name: "page by state and definition after a token",
			want: []string{"SEARCH i USING INDEX instances_state_definition (state=? AND definition_name=? AND (created,id)>(?,?))"}},
		{name: "page by definition, package and version", want: []string{"SEARCH i USING INDEX instances_definition (definition_name=?)"}},
		{name: "page by bookmark and state", want: []string{"SEARCH b USING PRIMARY KEY (bookmark=?)", byID}},
		{name: "page by bookmark after a token", want: []string{"SEARCH b USING PRIMARY KEY (bookmark=? AND (created,instance_id)>(?,?))", byID}},
		{name: "page by updated range",
			want: []string{"SEARCH i USING INDEX instances_updated (updated>? AND updated<?)", "USE TEMP B-TREE FOR ORDER BY"}},
		{name: "page by exception", want: []string{"SEARCH i USING INDEX instances_exception (exception=?)"}},
		{name: "page by created range after a token", want: []string{"SEARCH i USING INDEX instances_created ((created,id)>(?,?) AND created<?)"}},
		{name: "page without a filter after a token", want: []string{"SEARCH i USING INDEX instances_created ((created,id)>(?,?))"}},
		{name: "page by key", want: []string{"SEARCH i USING INDEX instances_correlation_key (correlation_key=?)"}},
		{name: "page by current", want: []string{"SEARCH i USING INDEX instances_current_state (current_state=?)"}},
		{name: "page by current after a token", want: []string{"SEARCH i USING INDEX instances_current_state (current_state=? AND (created,id)>(?,?))"}},
		{name: "page by property", want: []string{"SEARCH p USING PRIMARY KEY (name=? AND value=?)", byID}},
		{name: "page by property after a token", want: []string{"SEARCH p USING PRIMARY KEY (name=? AND value=? AND (created,instance_id)>(?,?))", byID}},
		// The first property drives; each other one is a lookup by the whole primary key.
		{name: "page by properties", want: []string{"SEARCH p USING PRIMARY KEY (name=? AND value=?)", byID,
			"SEARCH q EXISTS USING PRIMARY KEY (name=? AND value=? AND created=? AND instance_id=?)"}},
		// A parent's children: one range of instances_parent, in key order.
		{name: "page by parent", want: []string{"SEARCH i USING INDEX instances_parent (parent=?)"}},
		{name: "page by parent after a token", want: []string{"SEARCH i USING INDEX instances_parent (parent=? AND (created,id)>(?,?))"}},
		{name: "page by parent and state", want: []string{"SEARCH i USING INDEX instances_parent (parent=?)"}},
		// The bookmark is then a lookup by the whole primary key of instance_bookmarks.
		{name: "page by parent and bookmark", want: []string{"SEARCH i USING INDEX instances_parent (parent=?)",
			"SEARCH k EXISTS USING PRIMARY KEY (bookmark=? AND created=? AND instance_id=?)"}},
		{name: "count by state of a parent", want: []string{"SEARCH i USING INDEX instances_parent (parent=?)", "USE TEMP B-TREE FOR GROUP BY"}},
		// Every child: all of instances_parent (which holds nothing else), sorted; with a state,
		// that state's range in key order.
		{name: "page by child", want: []string{"SEARCH i USING INDEX instances_parent (parent>?)", "USE TEMP B-TREE FOR ORDER BY"}},
		{name: "page by child and state", want: []string{"SEARCH i USING INDEX instances_state (state=?)"}},
		{name: "count of children", want: []string{"SEARCH i USING COVERING INDEX instances_parent (parent>?)"}},
		// The first page without a filter reads the index from its start, and stops after 101 rows.
		{name: "page without a filter", want: []string{"SCAN i USING INDEX instances_created"}},
		// Counts by state, definition or exception, without a filter or with one on those columns:
		// the small summary table, never the instances.
		{name: "count by state", query: summarySQL, want: []string{"SCAN instance_counts"}},
		// The pending-timers gauge: the due-timer index alone, which holds only those instances.
		{name: "pending timers", query: pendingTimersSQL, want: []string{"SEARCH instances USING COVERING INDEX instances_due_timer (pending_timer>?)"}},
		{name: "count by state of a bookmark", want: []string{"SEARCH b USING PRIMARY KEY (bookmark=?)", byID, "USE TEMP B-TREE FOR GROUP BY"}},
		{name: "count by state of an updated range",
			want: []string{"SEARCH i USING INDEX instances_updated (updated>? AND updated<?)", "USE TEMP B-TREE FOR GROUP BY"}},
		{name: "count by definition of a reason in a state", want: []string{"SEARCH i USING INDEX instances_state (state=?)", "USE TEMP B-TREE FOR GROUP BY"}},
		{name: "count of a reason in a state and definition",
			want: []string{"SEARCH i USING INDEX instances_state_definition (state=? AND definition_name=?)"}},
		// What the triggers do on every write: by primary key.
		{name: "trigger: a count group", query: `UPDATE instance_counts SET n = n - 1
			WHERE (state, completion, definition_name, definition_package, definition_version, exception) = (?, ?, ?, ?, ?, ?)`,
			args: []any{"Active", "", "X", "", "1.0", ""},
			want: []string{"SEARCH instance_counts USING PRIMARY KEY (state=? AND completion=? AND definition_name=? AND definition_package=? AND definition_version=? AND exception=?)"}},
		{name: "trigger: an instance's bookmarks", query: `DELETE FROM instance_bookmarks WHERE created = ? AND instance_id = ?
			AND bookmark IN (SELECT value FROM json_each(?))`, args: []any{1, "x", `["a"]`},
			want: []string{"SEARCH instance_bookmarks USING PRIMARY KEY (bookmark=? AND created=? AND instance_id=?)", "LIST SUBQUERY 1", "SCAN json_each VIRTUAL TABLE INDEX 1:"}},
		{name: "trigger: an instance's properties", query: `DELETE FROM instance_properties WHERE created = ? AND instance_id = ?
			AND (name, value) IN (SELECT key, value FROM json_each(?))`, args: []any{1, "x", `{"a":"1"}`},
			want: []string{"SEARCH instance_properties USING PRIMARY KEY (name=? AND value=? AND created=? AND instance_id=?)", "LIST SUBQUERY 2", "SCAN json_each VIRTUAL TABLE INDEX 1:"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			query, args := c.query, c.args
			if query == "" {
				query, args = queryFor(t, c.name, key, from, to)
			}
			got := explain(t, s, query, args)
			for _, d := range got {
				if d == "SCAN i" || d == "SCAN instances" || strings.HasPrefix(d, "SCAN i ") && !strings.Contains(d, "USING") {
					t.Errorf("full scan of instances: %q", d)
				}
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("plan of %s\n%s\n  = %q\nwant %q", c.name, query, got, c.want)
			}
		})
	}
}

// queryFor is the page or count query the case's name describes, as the store builds it.
func queryFor(t *testing.T, name string, key *store.PageKey, from, to time.Time) (string, []any) {
	var after *store.PageKey
	if strings.HasSuffix(name, "after a token") {
		after = key
	}
	f := store.Filter{}
	for word, set := range map[string]func(){
		"state":      func() { f.State = workflow.Suspended },
		"definition": func() { f.Definition = "ExpenseApproval" },
		"package":    func() { f.Package = "wimp.samples" },
		"version":    func() { f.VersionMin = "1.0" },
		"bookmark":   func() { f.Bookmark = "Review" },
		"updated":    func() { f.UpdatedAfter, f.UpdatedBefore = from, to },
		"created":    func() { f.CreatedAfter, f.CreatedBefore = from, to },
		"exception":  func() { f.Exception = "System.InvalidOperationException" },
		"reason":     func() { f.ReasonContains = "audit" },
		"key":        func() { f.CorrelationKey = "lead/1" },
		"current":    func() { f.CurrentState = "SalesCollaboration" },
		"property":   func() { f.Properties = map[string]string{"amount": "500"} },
		"properties": func() { f.Properties = map[string]string{"amount": "500", "submitter": "bob"} },
		"parent":     func() { f.Parent = uuid.MustParse("0b6e3a52-1f0c-4d8e-9a51-7c2d4e6f8a90") },
		"child":      func() { f.HasParent = true },
	} {
		if strings.Contains(strings.TrimPrefix(strings.TrimPrefix(name, "count by state"), "count by definition"), word) {
			set()
		}
	}
	switch {
	case strings.HasPrefix(name, "page"):
		return pageSQL(f, after, store.DefaultPageSize+1, false)
	case strings.HasPrefix(name, "count by state"):
		return countSQL(f, store.GroupByState)
	case strings.HasPrefix(name, "count by definition"):
		return countSQL(f, store.GroupByDefinition)
	case strings.HasPrefix(name, "count"):
		return countSQL(f, store.GroupNone)
	}
	t.Fatalf("no query for %q", name)
	return "", nil
}
