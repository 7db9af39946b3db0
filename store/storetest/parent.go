package storetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/workflow"
)

var parentCases = []struct {
	name string
	f    func(t *testing.T, s store.Store, clk *clock)
}{
	{"ParentRoundTrip", testParentRoundTrip},
	{"ParentKeptByUpdate", testParentKeptByUpdate},
	{"ParentFilters", testParentFilters},
}

// child is an instance in state started by parent (uuid.Nil: by nobody).
func child(parent uuid.UUID, state workflow.State) *store.Instance {
	in := newInstance(state)
	if state == workflow.Completed {
		in.Completion = workflow.Closed
	}
	in.Parent = parent
	return in
}

// parentsOf reads every instance back through Get, List and QueryInstances (pages of 2) and
// fails unless each has the parent want gives (want has every stored instance).
func parentsOf(t *testing.T, s store.Store, want map[uuid.UUID]uuid.UUID) {
	t.Helper()
	for id, p := range want {
		if got := get(t, s, id); got.Parent != p {
			t.Errorf("Get(%s).Parent = %s, want %s", id, got.Parent, p)
		}
	}
	all, err := s.List(bg, store.Query{})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(all) != len(want) {
		t.Fatalf("List returned %d instances, want %d", len(all), len(want))
	}
	for _, in := range all {
		if p, ok := want[in.ID]; !ok || in.Parent != p {
			t.Errorf("List: %s has Parent %s, want %s", in.ID, in.Parent, p)
		}
	}
	seen := 0
	token := ""
	for range 100 {
		page, err := s.QueryInstances(bg, store.PageQuery{Size: 2, Token: token})
		if err != nil {
			t.Fatalf("QueryInstances: %v", err)
		}
		for _, in := range page.Instances {
			seen++
			if p, ok := want[in.ID]; !ok || in.Parent != p {
				t.Errorf("QueryInstances: %s has Parent %s, want %s", in.ID, in.Parent, p)
			}
		}
		if token = page.Next; token == "" {
			break
		}
	}
	if seen != len(want) {
		t.Fatalf("QueryInstances returned %d instances, want %d", seen, len(want))
	}
}

// testParentRoundTrip: the parent an Insert writes comes back from Get, List and
// QueryInstances, whichever way it was inserted; an instance without one has uuid.Nil; a
// parent's removal leaves its children's Parent as written.
func testParentRoundTrip(t *testing.T, s store.Store, _ *clock) {
	p := child(uuid.Nil, workflow.Active)
	insert(t, s, p)
	if got := get(t, s, p.ID); got.Parent != uuid.Nil {
		t.Fatalf("an instance inserted without a parent has Parent %s, want uuid.Nil", got.Parent)
	}

	c := child(p.ID, workflow.Active)
	insert(t, s, c)
	same(t, get(t, s, c.ID), c)
	if got := get(t, s, c.ID); got.Parent != p.ID {
		t.Fatalf("Parent = %s, want %s", got.Parent, p.ID)
	}

	// With a correlation key (the backends' other insert path), held by an owner, and two in
	// one Commit: a grandchild and one without a parent.
	keyedChild := child(p.ID, workflow.Suspended)
	keyedChild.CorrelationKey = "child/1"
	insert(t, s, keyedChild)
	register(t, s, "o1")
	held := child(p.ID, workflow.Active)
	commit(t, s, store.Change{Op: store.Insert, Instance: held, By: "o1", Hold: true})
	grandchild := child(c.ID, workflow.Active)
	none := child(uuid.Nil, workflow.Suspended)
	commit(t, s, store.Change{Op: store.Insert, Instance: grandchild}, store.Change{Op: store.Insert, Instance: none})
	for _, in := range []*store.Instance{keyedChild, held, grandchild, none} {
		same(t, get(t, s, in.ID), in)
	}

	want := map[uuid.UUID]uuid.UUID{
		p.ID:          uuid.Nil,
		c.ID:          p.ID,
		keyedChild.ID: p.ID,
		held.ID:       p.ID,
		grandchild.ID: c.ID,
		none.ID:       uuid.Nil,
	}
	parentsOf(t, s, want)

	// The parent completes and is purged; its children still name it.
	p.State, p.Completion = workflow.Completed, workflow.Closed
	commit(t, s, store.Change{Op: store.Update, Instance: p})
	commit(t, s, store.Change{Op: store.Purge, Instance: &store.Instance{ID: p.ID}})
	delete(want, p.ID)
	parentsOf(t, s, want)
}

// testParentKeptByUpdate: Update writes everything but the parent, which stays as Insert wrote
// it: another parent, uuid.Nil, or a parent for an instance inserted without one change nothing.
func testParentKeptByUpdate(t *testing.T, s store.Store, clk *clock) {
	p1, p2 := child(uuid.Nil, workflow.Active), child(uuid.Nil, workflow.Active)
	insert(t, s, p1)
	insert(t, s, p2)
	c := child(p1.ID, workflow.Active)
	insert(t, s, c)

	// Another parent, with other columns changed (the full update).
	c.Parent, c.State, c.SuspensionReason, c.CurrentState = p2.ID, workflow.Suspended, "audit", "Review"
	commit(t, s, store.Change{Op: store.Update, Instance: c})
	want := *c
	want.Parent = p1.ID
	same(t, get(t, s, c.ID), &want)

	// uuid.Nil, with only the columns no query uses changed.
	clk.advance(time.Second)
	c.Parent = uuid.Nil
	c.Failures++
	commit(t, s, store.Change{Op: store.Update, Instance: c})
	want = *c
	want.Parent = p1.ID
	same(t, get(t, s, c.ID), &want)

	// Held by an owner, who updates it with another parent.
	register(t, s, "o1")
	c.Parent = p2.ID
	commit(t, s, store.Change{Op: store.Update, Instance: c, By: "o1", Hold: true})
	c.Failures++
	commit(t, s, store.Change{Op: store.Update, Instance: c, By: "o1", Hold: true})
	want = *c
	want.Parent = p1.ID
	same(t, get(t, s, c.ID), &want)

	// An instance inserted without a parent keeps none.
	n := child(uuid.Nil, workflow.Active)
	insert(t, s, n)
	n.Parent = p1.ID
	commit(t, s, store.Change{Op: store.Update, Instance: n})
	n.Parent = p2.ID
	n.State = workflow.Suspended
	commit(t, s, store.Change{Op: store.Update, Instance: n})
	want = *n
	want.Parent = uuid.Nil
	same(t, get(t, s, n.ID), &want)

	for _, f := range []struct {
		f    store.Filter
		want []uuid.UUID
	}{
		{store.Filter{Parent: p1.ID}, []uuid.UUID{c.ID}},
		{store.Filter{Parent: p2.ID}, nil},
		{store.Filter{HasParent: true}, []uuid.UUID{c.ID}},
	} {
		page, err := s.QueryInstances(bg, store.PageQuery{Filter: f.f})
		if err != nil {
			t.Fatalf("QueryInstances(%+v): %v", f.f, err)
		}
		var got []uuid.UUID
		for _, in := range page.Instances {
			got = append(got, in.ID)
		}
		if !slices.Equal(got, f.want) {
			t.Errorf("QueryInstances(%+v) = %v, want %v", f.f, got, f.want)
		}
	}
}

// testParentFilters: Parent selects exactly one parent's children (not its grandchildren),
// HasParent every child, alone and with other filters, across pages; counts agree.
func testParentFilters(t *testing.T, s store.Store, clk *clock) {
	names := map[uuid.UUID]string{}
	by := map[string]*store.Instance{}
	// Inserted a minute apart, in this order (the order of QueryInstances).
	for _, r := range []struct {
		name, parent string
		state        workflow.State
	}{
		{"p1", "", workflow.Active},
		{"p2", "", workflow.Active},
		{"p3", "", workflow.Completed},
		{"a1", "p1", workflow.Active},
		{"a2", "p1", workflow.Suspended},
		{"b1", "p2", workflow.Active},
		{"a3", "p1", workflow.Completed},
		{"x", "", workflow.Suspended},
		{"a4", "p1", workflow.Active},
		{"g1", "a1", workflow.Suspended},
		{"b2", "p2", workflow.Suspended},
		{"a5", "p1", workflow.Active},
	} {
		clk.advance(time.Minute)
		var parent uuid.UUID
		if r.parent != "" {
			parent = by[r.parent].ID
		}
		in := child(parent, r.state)
		in.Bookmarks = []string{"Review"}
		if r.name == "a4" || r.name == "b1" || r.name == "x" {
			in.Bookmarks = []string{"Approve"}
		}
		insert(t, s, in)
		names[in.ID], by[r.name] = r.name, in
	}
	check := func(f store.Filter, want string) {
		t.Helper()
		var got []string
		token := ""
		for range 20 {
			p, err := s.QueryInstances(bg, store.PageQuery{Filter: f, Size: 2, Token: token})
			if err != nil {
				t.Fatalf("QueryInstances(%+v): %v", f, err)
			}
			if len(p.Instances) > 2 || p.Next != "" && len(p.Instances) != 2 {
				t.Fatalf("QueryInstances(%+v): a page of size 2 has %d instances (next %q)", f, len(p.Instances), p.Next)
			}
			for _, in := range p.Instances {
				name := names[in.ID]
				got = append(got, name)
				w := *by[name]
				w.Image, w.Variables = nil, nil
				same(t, in, &w)
			}
			if token = p.Next; token == "" {
				break
			}
		}
		if g := strings.Join(got, ","); g != want {
			t.Errorf("QueryInstances(%+v) = %q, want %q", f, g, want)
		}
		c, err := s.CountInstances(bg, f, store.GroupNone)
		if err != nil {
			t.Fatalf("CountInstances(%+v): %v", f, err)
		}
		if n := int64(len(got)); len(c) != 1 || c[0].N != n {
			t.Errorf("CountInstances(%+v) = %+v, want %d", f, c, n)
		}
	}
	p1, p2, p3, a1 := by["p1"].ID, by["p2"].ID, by["p3"].ID, by["a1"].ID

	check(store.Filter{Parent: p1}, "a1,a2,a3,a4,a5")
	check(store.Filter{Parent: p2}, "b1,b2")
	check(store.Filter{Parent: p3}, "")
	check(store.Filter{Parent: a1}, "g1")
	check(store.Filter{Parent: uuid.MustParse("6f1c2b7e-0d4a-4e8b-9c3f-5a7e9b1d2c4f")}, "")
	check(store.Filter{Parent: p1, State: workflow.Active}, "a1,a4,a5")
	check(store.Filter{Parent: p1, State: workflow.Completed, Completion: workflow.Closed}, "a3")
	check(store.Filter{Parent: p1, HasParent: true}, "a1,a2,a3,a4,a5")
	check(store.Filter{Parent: p1, Bookmark: "Review"}, "a1,a2,a3,a5")
	check(store.Filter{Parent: p2, Bookmark: "Approve"}, "b1")
	check(store.Filter{Parent: p1, CreatedAfter: by["a2"].Created, CreatedBefore: by["a5"].Created}, "a3,a4")
	check(store.Filter{HasParent: true}, "a1,a2,b1,a3,a4,g1,b2,a5")
	check(store.Filter{HasParent: true, State: workflow.Suspended}, "a2,g1,b2")
	check(store.Filter{HasParent: true, State: workflow.Active}, "a1,b1,a4,a5")
	check(store.Filter{HasParent: true, State: workflow.Completed}, "a3")
	check(store.Filter{HasParent: true, Bookmark: "Approve"}, "b1,a4")
	check(store.Filter{HasParent: true, CreatedAfter: by["b1"].Created}, "a3,a4,g1,b2,a5")
	check(store.Filter{State: workflow.Suspended}, "a2,x,g1,b2")
	check(store.Filter{}, "p1,p2,p3,a1,a2,b1,a3,x,a4,g1,b2,a5")

	// Counts by group follow the same filters.
	for _, c := range []struct {
		f    store.Filter
		want []store.Count
	}{
		{store.Filter{Parent: p1}, []store.Count{{State: workflow.Active, N: 3}, {State: workflow.Suspended, N: 1}, {State: workflow.Completed, N: 1}}},
		{store.Filter{HasParent: true}, []store.Count{{State: workflow.Active, N: 4}, {State: workflow.Suspended, N: 3}, {State: workflow.Completed, N: 1}}},
		{store.Filter{Parent: p3}, []store.Count{}},
	} {
		got, err := s.CountInstances(bg, c.f, store.GroupByState)
		if err != nil {
			t.Fatalf("CountInstances(%+v): %v", c.f, err)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("CountInstances(%+v, state) = %+v, want %+v", c.f, got, c.want)
		}
	}

	// Instances without a parent have uuid.Nil; the others the one they were inserted with.
	for _, name := range []string{"p1", "p2", "p3", "x"} {
		if got := get(t, s, by[name].ID).Parent; got != uuid.Nil {
			t.Errorf("%s: Parent %s, want uuid.Nil", name, got)
		}
	}
	for name, parent := range map[string]string{"a1": "p1", "a5": "p1", "b2": "p2", "g1": "a1"} {
		if got := get(t, s, by[name].ID).Parent; got != by[parent].ID {
			t.Errorf("%s: Parent %s, want %s's id %s", name, got, parent, by[parent].ID)
		}
	}

	// Updates (which keep the parent) and removals: a child's removal takes it out of its
	// parent's children; the parent's removal leaves them.
	a2 := by["a2"]
	a2.State, a2.Parent = workflow.Active, p2
	commit(t, s, store.Change{Op: store.Update, Instance: a2})
	a2.Parent = p1 // as stored
	check(store.Filter{Parent: p1, State: workflow.Active}, "a1,a2,a4,a5")
	check(store.Filter{Parent: p2}, "b1,b2")
	commit(t, s, store.Change{Op: store.Delete, Instance: &store.Instance{ID: a2.ID}})
	delete(names, a2.ID)
	commit(t, s, store.Change{Op: store.Delete, Instance: &store.Instance{ID: p2}})
	delete(names, p2)
	check(store.Filter{Parent: p1}, "a1,a3,a4,a5")
	check(store.Filter{Parent: p2}, "b1,b2")
	check(store.Filter{HasParent: true}, "a1,b1,a3,a4,g1,b2,a5")
	check(store.Filter{HasParent: true, State: workflow.Suspended}, "g1,b2")
}
