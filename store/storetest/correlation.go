package storetest

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/workflow"
)

var correlationCases = []struct {
	name string
	f    func(t *testing.T, s store.Store, clk *clock)
}{
	{"CorrelationKeyUnique", testCorrelationKeyUnique},
	{"CorrelationFilters", testCorrelationFilters},
}

// keyed is an Active instance with a correlation key, a current state and properties.
func keyed(key, state string, props map[string]string) *store.Instance {
	in := newInstance(workflow.Active)
	in.CorrelationKey, in.CurrentState, in.Properties = key, state, props
	return in
}

// testCorrelationKeyUnique: a key names at most one stored instance, whatever its state; an
// Insert that repeats it writes nothing, not even its records; Update keeps the stored key;
// a purged instance frees its key.
func testCorrelationKeyUnique(t *testing.T, s store.Store, _ *clock) {
	a := keyed("order/1", "NewLead", map[string]string{"amount": "500"})
	insert(t, s, a)
	same(t, get(t, s, a.ID), a)

	dup := keyed("order/1", "", nil)
	err := s.Commit(bg, store.Change{Op: store.Insert, Instance: dup,
		Records: []workflow.Record{{Kind: workflow.InstanceRecord, Name: "Started"}}})
	if !errors.Is(err, store.ErrKeyExists) || !errors.Is(err, store.ErrExists) {
		t.Fatalf("Insert with a taken key: %v, want ErrKeyExists (and ErrExists)", err)
	}
	if !strings.Contains(err.Error(), a.ID.String()) {
		t.Errorf("the refusal %q does not name the instance holding the key (%s)", err, a.ID)
	}
	if _, err := s.Get(bg, dup.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the refused instance: Get = %v, want ErrNotFound", err)
	}
	if recs, err := s.Records(bg, dup.ID, 0); err != nil || len(recs) != 0 {
		t.Fatalf("the refused instance's records: %v, %v; want none", recs, err)
	}
	// The same refusal inside a batch of two leaves the other change unwritten too.
	other := keyed("order/9", "", nil)
	if err := s.Commit(bg, store.Change{Op: store.Insert, Instance: other}, store.Change{Op: store.Insert, Instance: keyed("order/1", "", nil)}); !errors.Is(err, store.ErrKeyExists) {
		t.Fatalf("batch with a taken key: %v, want ErrKeyExists", err)
	}
	if _, err := s.Get(bg, other.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the batch's other instance: Get = %v, want ErrNotFound", err)
	}
	// Many instances without a key.
	for range 3 {
		insert(t, s, keyed("", "", nil))
	}

	// Update keeps the stored key, and writes state and properties.
	a.CorrelationKey, a.CurrentState, a.Properties = "order/other", "Sales", map[string]string{"amount": "700", "who": "ann"}
	commit(t, s, store.Change{Op: store.Update, Instance: a})
	want := *a
	want.CorrelationKey = "order/1"
	same(t, get(t, s, a.ID), &want)
	a.CorrelationKey = "order/1"

	// A Completed instance keeps its key until it is purged.
	a.State, a.Completion = workflow.Completed, workflow.Closed
	commit(t, s, store.Change{Op: store.Update, Instance: a})
	if err := s.Commit(bg, store.Change{Op: store.Insert, Instance: keyed("order/1", "", nil)}); !errors.Is(err, store.ErrKeyExists) {
		t.Fatalf("Insert with the key of a Completed instance: %v, want ErrKeyExists", err)
	}
	commit(t, s, store.Change{Op: store.Purge, Instance: &store.Instance{ID: a.ID}})
	again := keyed("order/1", "", nil)
	insert(t, s, again)
	same(t, get(t, s, again.ID), again)
}

// testCorrelationFilters: the key, current state and property filters select exactly what
// Filter.Matches accepts, before and after the properties change, and counts agree.
func testCorrelationFilters(t *testing.T, s store.Store, _ *clock) {
	names := map[uuid.UUID]string{}
	by := map[string]*store.Instance{}
	for _, r := range []struct {
		name, key, state string
		props            map[string]string
	}{
		{"a", "lead/1", "NewLead", map[string]string{"amount": "500", "submitter": "bob"}},
		{"b", "lead/2", "SalesCollaboration", map[string]string{"amount": "500", "submitter": "ann"}},
		{"c", "", "SalesCollaboration", map[string]string{"amount": "5000"}},
		{"d", "", "", nil},
		{"e", "lead/5", "", map[string]string{"submitter": "bob", "region": "north"}},
	} {
		in := keyed(r.key, r.state, r.props)
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
			for _, in := range p.Instances {
				got = append(got, names[in.ID])
				same(t, in, func() *store.Instance { w := *by[names[in.ID]]; w.Image, w.Variables = nil, nil; return &w }())
			}
			if token = p.Next; token == "" {
				break
			}
		}
		slices.Sort(got)
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
	check(store.Filter{CorrelationKey: "lead/1"}, "a")
	check(store.Filter{CorrelationKey: "lead/3"}, "")
	check(store.Filter{CorrelationKey: "lead/1", State: workflow.Suspended}, "")
	check(store.Filter{CorrelationKey: "lead/1", Bookmark: "Review"}, "")
	check(store.Filter{CurrentState: "SalesCollaboration"}, "b,c")
	check(store.Filter{CurrentState: "Sales"}, "")
	check(store.Filter{Properties: map[string]string{"amount": "500"}}, "a,b")
	check(store.Filter{Properties: map[string]string{"amount": "50"}}, "")
	check(store.Filter{Properties: map[string]string{"amount": "500", "submitter": "ann"}}, "b")
	check(store.Filter{Properties: map[string]string{"submitter": "bob"}}, "a,e")
	check(store.Filter{Properties: map[string]string{"submitter": "bob"}, CorrelationKey: "lead/5"}, "e")
	check(store.Filter{Properties: map[string]string{"submitter": "bob"}, CurrentState: "NewLead"}, "a")
	check(store.Filter{Properties: map[string]string{"region": "north", "amount": "500"}}, "")

	// The properties follow every persist; unchanged ones stay selectable.
	a := by["a"]
	a.Properties = map[string]string{"amount": "700", "submitter": "bob"}
	a.CurrentState = "SalesCollaboration"
	commit(t, s, store.Change{Op: store.Update, Instance: a})
	e := by["e"]
	e.Failures++ // a persist that changes neither
	commit(t, s, store.Change{Op: store.Update, Instance: e})
	check(store.Filter{Properties: map[string]string{"amount": "500"}}, "b")
	check(store.Filter{Properties: map[string]string{"amount": "700"}}, "a")
	check(store.Filter{Properties: map[string]string{"submitter": "bob"}}, "a,e")
	check(store.Filter{Properties: map[string]string{"region": "north"}}, "e")
	check(store.Filter{CurrentState: "SalesCollaboration"}, "a,b,c")
	check(store.Filter{CurrentState: "NewLead"}, "")
	b := by["b"]
	b.Properties = nil
	commit(t, s, store.Change{Op: store.Update, Instance: b})
	check(store.Filter{Properties: map[string]string{"submitter": "ann"}}, "")
	// A deleted instance leaves no property behind.
	commit(t, s, store.Change{Op: store.Delete, Instance: &store.Instance{ID: a.ID}})
	delete(names, a.ID)
	check(store.Filter{Properties: map[string]string{"amount": "700"}}, "")
	check(store.Filter{CorrelationKey: "lead/1"}, "")

	if _, err := s.QueryInstances(bg, store.PageQuery{Filter: store.Filter{Properties: map[string]string{"": "x"}}}); !errors.Is(err, store.ErrInvalidQuery) {
		t.Errorf("a property filter without a name: %v, want ErrInvalidQuery", err)
	}
}
