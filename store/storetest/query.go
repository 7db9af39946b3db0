package storetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/workflow"
)

var queryCases = []struct {
	name string
	f    func(t *testing.T, s store.Store, clk *clock)
}{
	{"QueryFilters", testQueryFilters},
	{"QueryCounts", testQueryCounts},
	{"QueryPaging", testQueryPaging},
	{"QueryInvalid", testQueryInvalid},
	{"QueryWhileChanging", testQueryWhileChanging},
	{"QueryCountsFollowChanges", testCountsFollowChanges},
}

func (c *clock) set(t time.Time) { c.ns.Store(t.UnixNano()) }

// fixture is ten instances inserted a minute apart (a first), each with something the filters
// tell apart; then d and g are updated an hour later. Times are the store clock's.
type fixture struct {
	by      map[string]*store.Instance
	names   map[uuid.UUID]string
	t0      time.Time // before every insert
	touched time.Time // after every insert, before the updates of d and g
}

func insertFixture(t *testing.T, s store.Store, clk *clock) *fixture {
	t.Helper()
	type row struct {
		name, state, completion, def, pkg, version, suspExc, complExc, reason string
		bookmarks                                                             []string
	}
	rows := []row{
		{"a", "Active", "", "Expense", "acme", "1.0.0.0", "", "", "", []string{"Review"}},
		{"b", "Active", "", "Expense", "acme", "1.00.0.0", "", "", "", []string{"Review", "Escalate"}},
		{"c", "Active", "", "Expense", "acme", "2.0.0.0", "", "", "", []string{"Approve"}},
		{"d", "Suspended", "", "Expense", "acme", "10.0", "System.InvalidOperationException", "", "audit by Bob", []string{"Review"}},
		{"e", "Suspended", "", "Onboard", "acme", "9.0", "", "", "Audit pending", nil},
		{"f", "Suspended", "", "Onboard", "hr", "1.0", "WorkItemLimitExceeded", "", "work item limit", nil},
		{"g", "Completed", "Closed", "Onboard", "hr", "1.0.0", "", "", "", nil},
		{"h", "Completed", "Faulted", "Expense", "acme", "2.0.0.0", "", "System.InvalidOperationException", "", nil},
		{"i", "Completed", "Terminated", "Expense", "acme", "not-a-version", "", "", "", nil},
		{"j", "Active", "", "Expense", "hr", "1.0.0.0", "", "", "", []string{"Review"}},
	}
	fx := &fixture{by: map[string]*store.Instance{}, names: map[uuid.UUID]string{}, t0: clk.now()}
	for _, r := range rows {
		clk.advance(time.Minute)
		in := &store.Instance{
			ID:                  uuid.New(),
			Definition:          workflow.Identity{Name: r.def, Package: r.pkg, Version: r.version},
			State:               workflow.State(r.state),
			Completion:          workflow.Completion(r.completion),
			SuspensionReason:    r.reason,
			SuspensionException: r.suspExc,
			CompletionException: r.complExc,
			Bookmarks:           r.bookmarks,
			ExecutionStatus:     "Idle",
			Image:               []byte{1, 2, 3},
			Variables:           []byte(`{"who":"` + r.name + `"}`),
		}
		if r.complExc != "" {
			in.CompletionReason = "boom"
		}
		insert(t, s, in)
		fx.by[r.name], fx.names[in.ID] = in, r.name
	}
	clk.advance(time.Minute)
	fx.touched = clk.now()
	clk.advance(time.Hour)
	for _, n := range []string{"d", "g"} {
		in := fx.by[n]
		in.Failures++
		commit(t, s, store.Change{Op: store.Update, Instance: in})
	}
	return fx
}

// queryAll follows every page of f (size 3) and returns the names of what it got, in order.
func (fx *fixture) queryAll(t *testing.T, s store.Store, f store.Filter) string {
	t.Helper()
	var got []string
	token := ""
	for range 100 {
		p, err := s.QueryInstances(bg, store.PageQuery{Filter: f, Size: 3, Token: token})
		if err != nil {
			t.Fatalf("QueryInstances(%+v): %v", f, err)
		}
		if len(p.Instances) > 3 {
			t.Fatalf("page of size 3 has %d instances", len(p.Instances))
		}
		for _, in := range p.Instances {
			name, ok := fx.names[in.ID]
			if !ok {
				t.Fatalf("QueryInstances returned an instance the fixture does not have: %s", in.ID)
			}
			want := *fx.by[name]
			want.Image, want.Variables = nil, nil
			same(t, in, &want)
			got = append(got, name)
		}
		if p.Next == "" {
			return strings.Join(got, ",")
		}
		if len(p.Instances) != 3 {
			t.Fatalf("a page with a next token has %d instances, want 3", len(p.Instances))
		}
		token = p.Next
	}
	t.Fatal("more than 100 pages")
	return ""
}

func testQueryFilters(t *testing.T, s store.Store, clk *clock) {
	fx := insertFixture(t, s, clk)
	at := func(n string) time.Time { return fx.by[n].Created }
	half := 500 * time.Microsecond
	for _, c := range []struct {
		f    store.Filter
		want string
	}{
		{store.Filter{}, "a,b,c,d,e,f,g,h,i,j"},
		{store.Filter{State: workflow.Active}, "a,b,c,j"},
		{store.Filter{State: workflow.Suspended}, "d,e,f"},
		{store.Filter{State: workflow.Completed}, "g,h,i"},
		{store.Filter{Completion: workflow.Faulted}, "h"},
		{store.Filter{Completion: workflow.Closed}, "g"},
		{store.Filter{Completion: workflow.Canceled}, ""},
		{store.Filter{Definition: "Expense"}, "a,b,c,d,h,i,j"},
		{store.Filter{Definition: "expense"}, ""},
		{store.Filter{Definition: "Expense", State: workflow.Active}, "a,b,c,j"},
		{store.Filter{Definition: "Onboard", State: workflow.Suspended}, "e,f"},
		{store.Filter{Package: "hr"}, "f,g,j"},
		{store.Filter{Definition: "Onboard", Package: "hr"}, "f,g"},
		// Versions compare as System.Version values: 1.00.0.0 is 1.0.0.0; 1.0 and 1.0.0 are not.
		{store.Filter{Version: "1.0.0.0"}, "a,b,j"},
		{store.Filter{Version: "1.0"}, "f"},
		{store.Filter{Version: "1.0.0"}, "g"},
		{store.Filter{Version: "2.0.0.0", Definition: "Expense", State: workflow.Completed}, "h"},
		{store.Filter{VersionMin: "2.0"}, "c,d,e,h"},
		{store.Filter{VersionMax: "1.0.0"}, "f,g"},
		{store.Filter{VersionMin: "9.0", VersionMax: "10.0"}, "d,e"},
		{store.Filter{VersionMin: "1.0.0.0", VersionMax: "1.0.0.0"}, "a,b,j"},
		{store.Filter{VersionMin: "3.0", VersionMax: "2.0"}, ""},
		{store.Filter{Exception: "System.InvalidOperationException"}, "d,h"},
		{store.Filter{Exception: "System.InvalidOperationException", State: workflow.Completed}, "h"},
		{store.Filter{Exception: "WorkItemLimitExceeded"}, "f"},
		{store.Filter{Exception: "Invalid"}, ""},
		{store.Filter{ReasonContains: "udit"}, "d,e"},
		{store.Filter{ReasonContains: "audit"}, "d"},
		{store.Filter{ReasonContains: "Audit"}, "e"},
		{store.Filter{ReasonContains: "limit", State: workflow.Suspended}, "f"},
		{store.Filter{Bookmark: "Review"}, "a,b,d,j"},
		{store.Filter{Bookmark: "Review", State: workflow.Active}, "a,b,j"},
		{store.Filter{Bookmark: "Review", Package: "hr"}, "j"},
		{store.Filter{Bookmark: "Escalate"}, "b"},
		{store.Filter{Bookmark: "review"}, ""},
		{store.Filter{CreatedAfter: at("c")}, "d,e,f,g,h,i,j"},
		{store.Filter{CreatedBefore: at("c")}, "a,b"},
		{store.Filter{CreatedAfter: at("a"), CreatedBefore: at("d")}, "b,c"},
		// Bounds between stored milliseconds.
		{store.Filter{CreatedAfter: at("c").Add(-half)}, "c,d,e,f,g,h,i,j"},
		{store.Filter{CreatedBefore: at("c").Add(half)}, "a,b,c"},
		{store.Filter{UpdatedAfter: fx.touched}, "d,g"},
		{store.Filter{UpdatedBefore: fx.touched}, "a,b,c,e,f,h,i,j"},
		{store.Filter{UpdatedAfter: fx.t0, UpdatedBefore: at("b").Add(time.Second)}, "a,b"},
		{store.Filter{UpdatedAfter: fx.touched, State: workflow.Completed}, "g"},
		{store.Filter{State: workflow.Suspended, Definition: "Expense", Bookmark: "Review", ReasonContains: "audit",
			Exception: "System.InvalidOperationException", VersionMin: "10.0", CreatedAfter: fx.t0, UpdatedAfter: fx.touched}, "d"},
	} {
		if got := fx.queryAll(t, s, c.f); got != c.want {
			t.Errorf("QueryInstances(%+v) = [%s], want [%s]", c.f, got, c.want)
		}
		// The reference semantics agree (a check of this test as much as of the backend).
		var model []string
		for _, n := range strings.Split("a,b,c,d,e,f,g,h,i,j", ",") {
			if c.f.Matches(get(t, s, fx.by[n].ID)) {
				model = append(model, n)
			}
		}
		if m := strings.Join(model, ","); m != c.want {
			t.Errorf("Filter.Matches selects [%s] for %+v, want [%s]", m, c.f, c.want)
		}
		want := int64(0)
		if c.want != "" {
			want = int64(len(strings.Split(c.want, ",")))
		}
		cs, err := s.CountInstances(bg, c.f, store.GroupNone)
		if err != nil || len(cs) != 1 || cs[0] != (store.Count{N: want}) {
			t.Errorf("CountInstances(%+v) = %+v, %v; want one Count of %d", c.f, cs, err, want)
		}
	}

	// Variables only when asked; never the image.
	p, err := s.QueryInstances(bg, store.PageQuery{Filter: store.Filter{Bookmark: "Escalate"}, Variables: true})
	if err != nil || len(p.Instances) != 1 || p.Next != "" {
		t.Fatalf("QueryInstances with variables: %+v, %v", p, err)
	}
	want := *fx.by["b"]
	want.Image = nil
	same(t, p.Instances[0], &want)
	if string(p.Instances[0].Variables) != `{"who":"b"}` {
		t.Errorf("variables %q", p.Instances[0].Variables)
	}
}

func testQueryCounts(t *testing.T, s store.Store, clk *clock) {
	insertFixture(t, s, clk)
	def := func(pkg, name, version string, n int64) store.Count {
		return store.Count{Definition: workflow.Identity{Name: name, Package: pkg, Version: version}, N: n}
	}
	old := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC) // a bound that selects everything
	for _, c := range []struct {
		f    store.Filter
		by   store.GroupBy
		want []store.Count
	}{
		{store.Filter{}, store.GroupNone, []store.Count{{N: 10}}},
		{store.Filter{Definition: "Nope"}, store.GroupNone, []store.Count{{N: 0}}},
		{store.Filter{}, store.GroupByState, []store.Count{{State: "Active", N: 4}, {State: "Suspended", N: 3}, {State: "Completed", N: 3}}},
		{store.Filter{CreatedAfter: old}, store.GroupByState, []store.Count{{State: "Active", N: 4}, {State: "Suspended", N: 3}, {State: "Completed", N: 3}}},
		{store.Filter{Bookmark: "Review"}, store.GroupByState, []store.Count{{State: "Active", N: 3}, {State: "Suspended", N: 1}}},
		{store.Filter{Definition: "Onboard"}, store.GroupByState, []store.Count{{State: "Suspended", N: 2}, {State: "Completed", N: 1}}},
		{store.Filter{}, store.GroupByDefinition, []store.Count{
			def("acme", "Expense", "not-a-version", 1), def("acme", "Expense", "1.0.0.0", 1), def("acme", "Expense", "1.00.0.0", 1),
			def("acme", "Expense", "2.0.0.0", 2), def("acme", "Expense", "10.0", 1), def("acme", "Onboard", "9.0", 1),
			def("hr", "Expense", "1.0.0.0", 1), def("hr", "Onboard", "1.0", 1), def("hr", "Onboard", "1.0.0", 1)}},
		{store.Filter{VersionMin: "9.0"}, store.GroupByDefinition, []store.Count{def("acme", "Expense", "10.0", 1), def("acme", "Onboard", "9.0", 1)}},
		{store.Filter{UpdatedBefore: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC), Version: "1.0.0.0"}, store.GroupByDefinition,
			[]store.Count{def("acme", "Expense", "1.0.0.0", 1), def("acme", "Expense", "1.00.0.0", 1), def("hr", "Expense", "1.0.0.0", 1)}},
		{store.Filter{}, store.GroupByException, []store.Count{{Exception: "", N: 7},
			{Exception: "System.InvalidOperationException", N: 2}, {Exception: "WorkItemLimitExceeded", N: 1}}},
		{store.Filter{State: workflow.Suspended}, store.GroupByException, []store.Count{{Exception: "", N: 1},
			{Exception: "System.InvalidOperationException", N: 1}, {Exception: "WorkItemLimitExceeded", N: 1}}},
		{store.Filter{ReasonContains: "it"}, store.GroupByException, []store.Count{{Exception: "", N: 1},
			{Exception: "System.InvalidOperationException", N: 1}, {Exception: "WorkItemLimitExceeded", N: 1}}},
		{store.Filter{ReasonContains: "item"}, store.GroupByException, []store.Count{{Exception: "WorkItemLimitExceeded", N: 1}}},
		{store.Filter{State: workflow.Completed, Completion: workflow.Faulted}, store.GroupByException,
			[]store.Count{{Exception: "System.InvalidOperationException", N: 1}}},
		{store.Filter{Bookmark: "Nope"}, store.GroupByState, []store.Count{}},
	} {
		got, err := s.CountInstances(bg, c.f, c.by)
		if err != nil {
			t.Fatalf("CountInstances(%+v, %q): %v", c.f, c.by, err)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("CountInstances(%+v, %q) =\n  %+v\nwant\n  %+v", c.f, c.by, got, c.want)
		}
	}
}

func testQueryPaging(t *testing.T, s store.Store, clk *clock) {
	// 1,001 instances, a few sharing a millisecond (ties are ordered by id).
	var changes []store.Change
	for i := range 1001 {
		if i%4 != 0 {
			clk.advance(time.Millisecond)
		}
		in := newInstance(workflow.Active)
		if i%2 == 1 {
			in.State = workflow.Suspended
		}
		changes = append(changes, store.Change{Op: store.Insert, Instance: in})
		if len(changes) == 50 {
			commit(t, s, changes...)
			changes = nil
		}
	}
	commit(t, s, changes...)

	follow := func(f store.Filter, size int) ([]*store.Instance, int) {
		t.Helper()
		var all []*store.Instance
		token, pages := "", 0
		for {
			p, err := s.QueryInstances(bg, store.PageQuery{Filter: f, Size: size, Token: token})
			if err != nil {
				t.Fatal(err)
			}
			pages++
			all = append(all, p.Instances...)
			if p.Next == "" {
				return all, pages
			}
			token = p.Next
		}
	}
	ordered := func(what string, list []*store.Instance) {
		t.Helper()
		for i := 1; i < len(list); i++ {
			a, b := list[i-1], list[i]
			if a.Created.After(b.Created) || (a.Created.Equal(b.Created) && a.ID.String() >= b.ID.String()) {
				t.Fatalf("%s: %s (%v) before %s (%v): not in (created, id) order", what, a.ID, a.Created, b.ID, b.Created)
			}
		}
	}
	all, pages := follow(store.Filter{}, 1000)
	if len(all) != 1001 || pages != 2 {
		t.Fatalf("size 1000: %d instances in %d pages, want 1001 in 2", len(all), pages)
	}
	ordered("size 1000", all)
	for _, c := range []struct {
		f            store.Filter
		size         int
		want, pages  int
		firstPageLen int
	}{
		{store.Filter{}, 0, 1001, 11, 100},    // the default size, 100
		{store.Filter{}, 5000, 1001, 2, 1000}, // at most 1000
		{store.Filter{}, 1001, 1001, 2, 1000},
		{store.Filter{}, 7, 1001, 143, 7},
		{store.Filter{State: workflow.Suspended}, 50, 500, 10, 50}, // exactly full pages: no empty last page
		{store.Filter{State: workflow.Active}, 1, 501, 501, 1},
	} {
		got, pages := follow(c.f, c.size)
		if len(got) != c.want || pages != c.pages {
			t.Errorf("%+v size %d: %d instances in %d pages, want %d in %d", c.f, c.size, len(got), pages, c.want, c.pages)
		}
		ordered(fmt.Sprintf("%+v size %d", c.f, c.size), got)
		p, err := s.QueryInstances(bg, store.PageQuery{Filter: c.f, Size: c.size})
		if err != nil || len(p.Instances) != c.firstPageLen {
			t.Errorf("%+v size %d: first page has %d, want %d (%v)", c.f, c.size, len(p.Instances), c.firstPageLen, err)
		}
		var ids []uuid.UUID
		for _, in := range got {
			ids = append(ids, in.ID)
			if c.f.State != "" && in.State != c.f.State {
				t.Fatalf("%+v returned a %s instance", c.f, in.State)
			}
		}
		var want []uuid.UUID
		for _, in := range all {
			if c.f.Matches(in) {
				want = append(want, in.ID)
			}
		}
		if !slices.Equal(ids, want) {
			t.Errorf("%+v size %d: not the instances of the whole listing, in its order", c.f, c.size)
		}
	}
	// A token is a position: it continues any filter there.
	p, err := s.QueryInstances(bg, store.PageQuery{Size: 10})
	if err != nil {
		t.Fatal(err)
	}
	q, err := s.QueryInstances(bg, store.PageQuery{Filter: store.Filter{State: workflow.Suspended}, Size: 3, Token: p.Next})
	if err != nil || len(q.Instances) != 3 {
		t.Fatalf("another filter after a token: %v %v", q, err)
	}
	for _, in := range q.Instances {
		if !in.Created.After(all[9].Created) && !(in.Created.Equal(all[9].Created) && in.ID.String() > all[9].ID.String()) {
			t.Errorf("%s is not after the token's instance", in.ID)
		}
	}
}

func testQueryInvalid(t *testing.T, s store.Store, clk *clock) {
	insertFixture(t, s, clk)
	p, err := s.QueryInstances(bg, store.PageQuery{Size: 2})
	if err != nil || p.Next == "" {
		t.Fatal(p, err)
	}
	good := p.Next
	bad := []string{
		"x",
		"not a token",
		good + "A",
		good[:33],
		good + "==",
		good[:10] + "\n" + good[10:],
		strings.Repeat("A", 34),              // version 0
		"Ag" + good[2:],                      // version 2
		good[:33] + string(good[33]^0x01),    // other trailing bits: not canonical
		"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", // the nil id
	}
	if std := strings.NewReplacer("_", "/", "-", "+").Replace(good); std != good {
		bad = append(bad, std) // the standard alphabet
	}
	for _, tok := range bad {
		if _, err := s.QueryInstances(bg, store.PageQuery{Token: tok}); !errors.Is(err, store.ErrInvalidQuery) {
			t.Errorf("token %q: %v, want ErrInvalidQuery", tok, err)
		}
	}
	for _, f := range []store.Filter{
		{State: "Sleeping"}, {State: "active"}, {Completion: "Done"}, {Version: "1"}, {VersionMin: "x.y"}, {VersionMax: "1.2.3.4.5"},
	} {
		if _, err := s.QueryInstances(bg, store.PageQuery{Filter: f}); !errors.Is(err, store.ErrInvalidQuery) {
			t.Errorf("QueryInstances(%+v): %v, want ErrInvalidQuery", f, err)
		}
		if _, err := s.CountInstances(bg, f, store.GroupByState); !errors.Is(err, store.ErrInvalidQuery) {
			t.Errorf("CountInstances(%+v): %v, want ErrInvalidQuery", f, err)
		}
	}
	if _, err := s.QueryInstances(bg, store.PageQuery{Size: -1}); !errors.Is(err, store.ErrInvalidQuery) {
		t.Errorf("size -1: %v", err)
	}
	if _, err := s.CountInstances(bg, store.Filter{}, "colour"); !errors.Is(err, store.ErrInvalidQuery) {
		t.Errorf("group by colour: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = s.QueryInstances(bg, store.PageQuery{})
	wantErr(t, "QueryInstances after Close", err, store.ErrClosed)
	_, err = s.CountInstances(bg, store.Filter{}, store.GroupNone)
	wantErr(t, "CountInstances after Close", err, store.ErrClosed)
}

// testQueryWhileChanging pages through instances while others are inserted (at times among
// theirs, so inside the range being paged), updated and deleted: every instance that exists
// throughout appears exactly once per pass, in order, and nothing appears twice.
func testQueryWhileChanging(t *testing.T, s store.Store, clk *clock) {
	const n = 200
	start := clk.now()
	stable := map[uuid.UUID]bool{}
	var doomed []*store.Instance
	var stables []*store.Instance
	var changes []store.Change
	for i := range 2 * n {
		clk.advance(time.Millisecond)
		in := newInstance(workflow.Active)
		if i%2 == 0 {
			stable[in.ID] = true
			stables = append(stables, in)
		} else {
			in.Bookmarks = []string{"Doomed"}
			doomed = append(doomed, in)
		}
		changes = append(changes, store.Change{Op: store.Insert, Instance: in})
	}
	commit(t, s, changes...)
	end := clk.now()

	var (
		mu      sync.Mutex
		ever    = map[uuid.UUID]bool{}
		done    = make(chan struct{})
		wg      sync.WaitGroup
		errc    = make(chan error, 3)
		writing sync.WaitGroup
	)
	for id := range stable {
		ever[id] = true
	}
	for _, in := range doomed {
		ever[in.ID] = true
	}
	writing.Add(3)
	// Deleter: every doomed instance, in random order.
	wg.Go(func() {
		defer writing.Done()
		r := rand.New(rand.NewPCG(1, 2))
		for _, i := range r.Perm(len(doomed)) {
			if err := s.Commit(bg, store.Change{Op: store.Delete, Instance: &store.Instance{ID: doomed[i].ID}}); err != nil {
				errc <- fmt.Errorf("delete: %w", err)
				return
			}
		}
	})
	// Inserter: new instances whose created falls among the paged ones (the store's clock is
	// set before each insert).
	wg.Go(func() {
		defer writing.Done()
		r := rand.New(rand.NewPCG(3, 4))
		for range n {
			in := newInstance(workflow.Active)
			mu.Lock()
			ever[in.ID] = true
			clk.set(start.Add(time.Duration(r.Int64N(int64(end.Sub(start))))))
			err := s.Commit(bg, store.Change{Op: store.Insert, Instance: in})
			mu.Unlock()
			if err != nil {
				errc <- fmt.Errorf("insert: %w", err)
				return
			}
		}
	})
	// Updater: stable instances change (updated, state, bookmarks), but not their key.
	wg.Go(func() {
		defer writing.Done()
		r := rand.New(rand.NewPCG(5, 6))
		for range n {
			in := stables[r.IntN(len(stables))]
			in.Bookmarks = []string{fmt.Sprint("b", r.IntN(3))}
			if err := s.Commit(bg, store.Change{Op: store.Update, Instance: in}); err != nil {
				errc <- fmt.Errorf("update: %w", err)
				return
			}
		}
	})
	go func() { writing.Wait(); close(done) }()

	passes := 0
	for {
		finished := false
		select {
		case <-done:
			finished = true
		default:
		}
		seen := map[uuid.UUID]int{}
		var prev *store.Instance
		token := ""
		for {
			p, err := s.QueryInstances(bg, store.PageQuery{Size: 7, Token: token})
			if err != nil {
				t.Fatal(err)
			}
			for _, in := range p.Instances {
				seen[in.ID]++
				if seen[in.ID] > 1 {
					t.Fatalf("pass %d: %s appeared twice", passes, in.ID)
				}
				mu.Lock()
				known := ever[in.ID]
				mu.Unlock()
				if !known {
					t.Fatalf("pass %d: %s was never inserted", passes, in.ID)
				}
				if prev != nil && (prev.Created.After(in.Created) || (prev.Created.Equal(in.Created) && prev.ID.String() >= in.ID.String())) {
					t.Fatalf("pass %d: out of order: %s then %s", passes, prev.ID, in.ID)
				}
				prev = in
			}
			if p.Next == "" {
				break
			}
			token = p.Next
		}
		for id := range stable {
			if seen[id] != 1 {
				t.Fatalf("pass %d: stable instance %s appeared %d times", passes, id, seen[id])
			}
		}
		passes++
		if finished {
			break
		}
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if passes < 2 {
		t.Logf("only %d passes overlapped the writers", passes)
	}
	// Afterwards: the stable and the inserted instances, no doomed one.
	cs, err := s.CountInstances(bg, store.Filter{}, store.GroupNone)
	if err != nil || cs[0].N != 2*n {
		t.Fatalf("count after the changes: %+v %v, want %d", cs, err, 2*n)
	}
	if cs, err := s.CountInstances(bg, store.Filter{Bookmark: "Doomed"}, store.GroupNone); err != nil || cs[0].N != 0 {
		t.Fatalf("deleted instances still found by their bookmark: %+v %v", cs, err)
	}
}

// testCountsFollowChanges: counts (and bookmark lookups) follow inserts, updates of every
// counted column, deletes and deleting an id that is used again; per-group counts agree
// with counting the rows the pages return.
func testCountsFollowChanges(t *testing.T, s store.Store, clk *clock) {
	fx := insertFixture(t, s, clk)
	byState := func(f store.Filter) string {
		t.Helper()
		cs, err := s.CountInstances(bg, f, store.GroupByState)
		if err != nil {
			t.Fatal(err)
		}
		var parts []string
		for _, c := range cs {
			parts = append(parts, fmt.Sprintf("%s=%d", c.State, c.N))
		}
		return strings.Join(parts, " ")
	}
	check := func(what, want string) {
		t.Helper()
		if got := byState(store.Filter{}); got != want {
			t.Errorf("%s: counts by state %q, want %q", what, got, want)
		}
		// The same through the rows (a bound that selects everything forces counting rows).
		if got := byState(store.Filter{CreatedAfter: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)}); got != want {
			t.Errorf("%s: counted from rows %q, want %q", what, got, want)
		}
	}
	check("fixture", "Active=4 Suspended=3 Completed=3")
	commit(t, s, store.Change{Op: store.Delete, Instance: fx.by["c"]})
	check("c deleted", "Active=3 Suspended=3 Completed=3")
	if got := fx.queryAll(t, s, store.Filter{Bookmark: "Approve"}); got != "" {
		t.Errorf("deleted c still waits on Approve: [%s]", got)
	}
	e := fx.by["e"]
	e.State, e.Completion, e.SuspensionReason = workflow.Completed, workflow.Canceled, ""
	commit(t, s, store.Change{Op: store.Update, Instance: e})
	check("e canceled", "Active=3 Suspended=2 Completed=4")
	a := fx.by["a"]
	a.Bookmarks = []string{"Escalate"}
	commit(t, s, store.Change{Op: store.Update, Instance: a})
	if got := fx.queryAll(t, s, store.Filter{Bookmark: "Review"}); got != "b,d,j" {
		t.Errorf("after a's bookmarks changed, Review: [%s], want [b,d,j]", got)
	}
	if got := fx.queryAll(t, s, store.Filter{Bookmark: "Escalate"}); got != "a,b" {
		t.Errorf("after a's bookmarks changed, Escalate: [%s], want [a,b]", got)
	}
	// The exception and the definition move groups too.
	f := fx.by["f"]
	f.SuspensionException = "Timeout"
	f.Definition.Version = "2.0"
	commit(t, s, store.Change{Op: store.Update, Instance: f})
	cs, err := s.CountInstances(bg, store.Filter{Exception: "Timeout"}, store.GroupByDefinition)
	if err != nil || !slices.Equal(cs, []store.Count{{Definition: workflow.Identity{Name: "Onboard", Package: "hr", Version: "2.0"}, N: 1}}) {
		t.Errorf("after f's exception and version changed: %+v %v", cs, err)
	}
	if cs, _ := s.CountInstances(bg, store.Filter{Exception: "WorkItemLimitExceeded"}, store.GroupNone); cs[0].N != 0 {
		t.Errorf("f still counted under its old exception: %+v", cs)
	}
	if got := fx.queryAll(t, s, store.Filter{Version: "2.0"}); got != "f" {
		t.Errorf("Version 2.0 after f's update: [%s]", got)
	}
	// An id deleted and inserted again is counted once.
	d := fx.by["d"]
	commit(t, s, store.Change{Op: store.Delete, Instance: d})
	again := *d
	again.State, again.SuspensionException, again.SuspensionReason = workflow.Active, "", ""
	commit(t, s, store.Change{Op: store.Insert, Instance: &again})
	check("d again, active", "Active=4 Suspended=1 Completed=4")
	// Random changes: the counts of every grouping agree with the rows.
	r := rand.New(rand.NewPCG(7, 8))
	live := []*store.Instance{}
	for range 300 {
		switch op := r.IntN(3); {
		case op == 0 || len(live) == 0:
			in := newInstance([]workflow.State{workflow.Active, workflow.Suspended, workflow.Completed}[r.IntN(3)])
			in.Definition.Version = []string{"1.0", "1.0.0.0", "2.0"}[r.IntN(3)]
			in.SuspensionException = []string{"", "", "X", "Y"}[r.IntN(4)]
			insert(t, s, in)
			live = append(live, in)
		case op == 1:
			in := live[r.IntN(len(live))]
			in.State = []workflow.State{workflow.Active, workflow.Suspended, workflow.Completed}[r.IntN(3)]
			in.CompletionException = []string{"", "Z"}[r.IntN(2)]
			in.Definition.Name = []string{"Approval", "Other"}[r.IntN(2)]
			commit(t, s, store.Change{Op: store.Update, Instance: in})
		default:
			i := r.IntN(len(live))
			commit(t, s, store.Change{Op: store.Delete, Instance: live[i]})
			live = slices.Delete(live, i, i+1)
		}
	}
	var rows []*store.Instance
	token := ""
	for {
		p, err := s.QueryInstances(bg, store.PageQuery{Size: 1000, Token: token})
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, p.Instances...)
		if token = p.Next; token == "" {
			break
		}
	}
	for _, by := range []store.GroupBy{store.GroupNone, store.GroupByState, store.GroupByDefinition, store.GroupByException} {
		for _, f := range []store.Filter{{}, {State: workflow.Suspended}, {VersionMin: "1.0.0"}, {Exception: "X"},
			{CreatedAfter: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)}} {
			model := map[store.Count]int64{}
			for _, in := range rows {
				if f.Matches(in) {
					model[store.GroupKey(in, by)]++
				}
			}
			want := []store.Count{}
			for k, n := range model {
				k.N = n
				want = append(want, k)
			}
			if by == store.GroupNone && len(want) == 0 {
				want = append(want, store.Count{})
			}
			store.SortCounts(want)
			got, err := s.CountInstances(bg, f, by)
			if err != nil || !slices.Equal(got, want) {
				t.Errorf("CountInstances(%+v, %q) = %+v, %v; the rows give %+v", f, by, got, err, want)
			}
		}
	}
}
