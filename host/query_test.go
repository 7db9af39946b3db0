package host_test

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/engine"
	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/internal/testlog"
	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/workflow"
)

func ids(list []*host.Instance) []uuid.UUID {
	out := []uuid.UUID{}
	for _, in := range list {
		out = append(out, in.ID)
	}
	return out
}

func sameIDs(a, b []uuid.UUID) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	cmp := func(p, q uuid.UUID) int { return strings.Compare(p.String(), q.String()) }
	slices.SortFunc(x, cmp)
	slices.SortFunc(y, cmp)
	return slices.Equal(x, y)
}

func TestQueryAndCount(t *testing.T) {
	h := newHost(t, -1)
	waiting := createExpense(t, h, 10)
	audited := createExpense(t, h, 20)
	if err := manage(t, h, "Suspend", audited, "audit by Bob"); err != nil {
		t.Fatal(err)
	}
	hello, err := h.Create(bg, host.CreateRequest{Definition: "Hello"})
	if err != nil {
		t.Fatal(err)
	}
	rejected, err := h.Create(bg, host.CreateRequest{Definition: "FaultOnDemand"})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.ResumeBookmark(bg, rejected, "Attempt", map[string]any{"fail": true, "message": "no"}); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		f    host.Filter
		want []uuid.UUID
	}{
		{host.Filter{}, []uuid.UUID{waiting, audited, hello, rejected}},
		{host.Filter{State: workflow.Active}, []uuid.UUID{waiting}},
		{host.Filter{State: workflow.Suspended}, []uuid.UUID{audited, rejected}},
		{host.Filter{Completion: workflow.Closed}, []uuid.UUID{hello}},
		{host.Filter{Definition: "ExpenseApproval", Version: "1.0.0.0"}, []uuid.UUID{waiting, audited}},
		{host.Filter{Package: "wimp.samples", VersionMin: "1.0.0.1"}, []uuid.UUID{}},
		{host.Filter{Bookmark: "Review"}, []uuid.UUID{waiting, audited}},
		{host.Filter{Bookmark: "Attempt"}, []uuid.UUID{rejected}}, // back at its last persisted point, suspended
		{host.Filter{Exception: "OrderRejected"}, []uuid.UUID{rejected}},
		{host.Filter{ReasonContains: "Bob"}, []uuid.UUID{audited}},
	} {
		res, err := h.Query(bg, host.QueryRequest{Filter: c.f})
		if err != nil {
			t.Fatalf("Query(%+v): %v", c.f, err)
		}
		if got := ids(res.Instances); !sameIDs(got, c.want) || res.NextPageToken != "" {
			t.Errorf("Query(%+v) = %v (next %q), want %v", c.f, got, res.NextPageToken, c.want)
		}
		for _, in := range res.Instances {
			if in.Variables != nil {
				t.Errorf("Query without IncludeVariables returned variables %s", in.Variables)
			}
		}
	}
	res, err := h.Query(bg, host.QueryRequest{Filter: host.Filter{Exception: "OrderRejected"}, IncludeVariables: true})
	if err != nil || len(res.Instances) != 1 {
		t.Fatal(res, err)
	}
	if in := res.Instances[0]; in.SuspensionException != "OrderRejected" || in.SuspensionReason != "no" ||
		!strings.Contains(string(in.Variables), `"status":"Waiting"`) {
		t.Errorf("the rejected instance: %+v (variables %s)", in, in.Variables)
	}

	// Pages of 1 follow each other, oldest first.
	var paged []uuid.UUID
	token := ""
	for range 10 {
		res, err := h.Query(bg, host.QueryRequest{PageSize: 1, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		paged = append(paged, ids(res.Instances)...)
		if token = res.NextPageToken; token == "" {
			break
		}
	}
	// Oldest first; instances created in the same millisecond by id.
	order := []uuid.UUID{waiting, audited, hello, rejected}
	slices.SortStableFunc(order, func(x, y uuid.UUID) int {
		a, _ := h.Get(bg, x)
		b, _ := h.Get(bg, y)
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(x.String(), y.String())
	})
	if !slices.Equal(paged, order) {
		t.Errorf("pages of 1: %v, want %v", paged, order)
	}
	list, err := h.List(bg, "", 0)
	if err != nil || !slices.Equal(ids(list), paged) || list[0].Variables == nil {
		t.Errorf("List: %v %v", ids(list), err)
	}

	for _, c := range []struct {
		f    host.Filter
		by   host.GroupBy
		want host.CountResult
	}{
		{host.Filter{}, host.GroupNone, host.CountResult{Total: 4}},
		{host.Filter{}, host.GroupByState, host.CountResult{Total: 4, Groups: []host.Count{
			{State: workflow.Active, N: 1}, {State: workflow.Suspended, N: 2}, {State: workflow.Completed, N: 1}}}},
		{host.Filter{State: workflow.Suspended}, host.GroupByException, host.CountResult{Total: 2, Groups: []host.Count{
			{Exception: "", N: 1}, {Exception: "OrderRejected", N: 1}}}},
		{host.Filter{Bookmark: "Review"}, host.GroupByDefinition, host.CountResult{Total: 2, Groups: []host.Count{
			{Definition: workflow.Identity{Name: "ExpenseApproval", Package: "wimp.samples", Version: "1.0.0.0"}, N: 2}}}},
	} {
		got, err := h.Count(bg, c.f, c.by)
		if err != nil || got.Total != c.want.Total || !slices.Equal(got.Groups, c.want.Groups) {
			t.Errorf("Count(%+v, %q) = %+v, %v; want %+v", c.f, c.by, got, err, c.want)
		}
	}

	// Refusals: InvalidQuery, nothing read.
	for name, call := range map[string]func() error{
		"malformed token": func() error { _, err := h.Query(bg, host.QueryRequest{PageToken: "nope"}); return err },
		"negative size":   func() error { _, err := h.Query(bg, host.QueryRequest{PageSize: -1}); return err },
		"state": func() error {
			_, err := h.Query(bg, host.QueryRequest{Filter: host.Filter{State: "active"}})
			return err
		},
		"version": func() error { _, err := h.Count(bg, host.Filter{VersionMax: "2"}, host.GroupNone); return err },
		"group":   func() error { _, err := h.Count(bg, host.Filter{}, "colour"); return err },
	} {
		err := call()
		var he *host.Error
		if !errors.Is(err, host.ErrInvalidQuery) || !errors.As(err, &he) || he.Detail == "" || strings.HasPrefix(he.Detail, "store:") {
			t.Errorf("%s: %v, want ErrInvalidQuery with a detail", name, err)
		}
	}
}

// A reader may query, count and list definitions; a principal without a role may not.
func TestQueryAuthorization(t *testing.T) {
	h := newHost(t, -1)
	reader := host.WithPrincipal(bg, host.Principal{Name: "rita", Role: host.Reader})
	nobody := host.WithPrincipal(bg, host.Principal{Name: "cn=stranger", Role: host.NoRole})
	if _, err := h.Query(reader, host.QueryRequest{}); err != nil {
		t.Errorf("reader Query: %v", err)
	}
	if _, err := h.Count(reader, host.Filter{}, host.GroupByState); err != nil {
		t.Errorf("reader Count: %v", err)
	}
	if _, err := h.Definitions(reader); err != nil {
		t.Errorf("reader Definitions: %v", err)
	}
	for op, call := range map[string]func() error{
		"QueryInstances": func() error { _, err := h.Query(nobody, host.QueryRequest{}); return err },
		"CountInstances": func() error { _, err := h.Count(nobody, host.Filter{}, host.GroupNone); return err },
		"GetDefinitions": func() error { _, err := h.Definitions(nobody); return err },
		"ListInstances":  func() error { _, err := h.List(nobody, "", 0); return err },
	} {
		err := call()
		var he *host.Error
		if !errors.Is(err, host.ErrAccessDenied) || !errors.As(err, &he) || he.Operation != op {
			t.Errorf("%s without a role: %v, want ErrAccessDenied naming %s", op, err, op)
		}
	}
}

// Under the Terminate policy an unhandled exception faults the instance: the exception's name
// is kept as its completion exception, which the exception filter finds.
func TestCompletionException(t *testing.T) {
	h := startHost(t, host.Config{UnloadAfter: -1, Policy: host.TerminatePolicy})
	id, err := h.Create(bg, host.CreateRequest{Definition: "FaultOnDemand"})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.ResumeBookmark(bg, id, "Attempt", map[string]any{"fail": true}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the instance faulted", func() bool {
		in, err := h.Get(bg, id)
		return err == nil && in.Completion == workflow.Faulted
	})
	in, _ := h.Get(bg, id)
	if in.CompletionException != "OrderRejected" || in.SuspensionException != "" || in.CompletionReason != "rejected" {
		t.Errorf("faulted instance: completion exception %q, suspension exception %q, reason %q; want OrderRejected, \"\", rejected",
			in.CompletionException, in.SuspensionException, in.CompletionReason)
	}
	res, err := h.Query(bg, host.QueryRequest{Filter: host.Filter{Exception: "OrderRejected", Completion: workflow.Faulted}})
	if err != nil || !slices.Equal(ids(res.Instances), []uuid.UUID{id}) {
		t.Errorf("Query by the completion exception: %v %v", res, err)
	}
	cs, err := h.Count(bg, host.Filter{}, host.GroupByException)
	if err != nil || !slices.Equal(cs.Groups, []host.Count{{Exception: "OrderRejected", N: 1}}) {
		t.Errorf("Count by exception: %+v %v", cs, err)
	}
}

// List follows pages past the store's largest (1000).
func TestListFollowsPages(t *testing.T) {
	st := openStore(t)
	var changes []store.Change
	for range 1203 {
		changes = append(changes, store.Change{Op: store.Insert, Instance: &store.Instance{ID: uuid.New(), State: workflow.Completed,
			Completion: workflow.Closed, Definition: workflow.Identity{Name: "Hello", Package: "wimp.samples", Version: "1.0.0.0"}}})
	}
	if err := st.Commit(bg, changes...); err != nil {
		t.Fatal(err)
	}
	h := startHost(t, host.Config{Store: st, UnloadAfter: -1})
	for limit, want := range map[int]int{0: 1203, 1: 1, 1000: 1000, 1001: 1001, 5000: 1203} {
		list, err := h.List(bg, workflow.Completed, limit)
		if err != nil || len(list) != want {
			t.Errorf("List(Completed, %d): %d instances, %v; want %d", limit, len(list), err, want)
		}
	}
	if list, err := h.List(bg, workflow.Active, 0); err != nil || len(list) != 0 {
		t.Errorf("List(Active): %d, %v", len(list), err)
	}
}

func TestDefinitions(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	upper := write("Mine.XML", `<Workflow Name="Mine" Package="acme" Version="2.0">
  <UpdatableFrom Name="Mine" Package="acme" Version="1.0"/>
  <Arguments><In Name="n" Type="Number" Default="[1 + 1]"/><In Name="who" Type="String" Required="true"/></Arguments>
  <Sequence/></Workflow>`)
	write("notes.txt", "not a definition")
	if err := os.Mkdir(filepath.Join(dir, "sub.xml"), 0o755); err != nil { // a directory, skipped
		t.Fatal(err)
	}
	defs, err := engine.LoadRegistry(dir)
	if err != nil {
		t.Fatalf("LoadRegistry(dir with Mine.XML): %v", err)
	}
	h := startHost(t, host.Config{Definitions: defs, UnloadAfter: -1})
	all, err := h.Definitions(bg)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]host.Definition{}
	for _, d := range all {
		byID[d.Identity.Name+" "+d.Identity.Version] = d
	}
	mine := byID["Mine 2.0"]
	want := host.Definition{Identity: workflow.Identity{Name: "Mine", Package: "acme", Version: "2.0"},
		Arguments:     []host.Argument{{Name: "n", Type: "Number", Default: "[1 + 1]"}, {Name: "who", Type: "String", Required: true}},
		UpdatableFrom: []workflow.Identity{{Name: "Mine", Package: "acme", Version: "1.0"}},
		Source:        "file", Location: upper}
	if !sameDefinition(mine, want) {
		t.Errorf("Mine 2.0 = %+v\nwant %+v", mine, want)
	}
	v2 := byID["ExpenseApproval 2.0.0.0"]
	want = host.Definition{Identity: workflow.Identity{Name: "ExpenseApproval", Package: "wimp.samples", Version: "2.0.0.0"},
		Arguments: []host.Argument{{Name: "amount", Type: "Number", Required: true}, {Name: "submitter", Type: "String", Required: true},
			{Name: "reviewTimeout", Type: "String", Default: "'240h'"}},
		UpdatableFrom: []workflow.Identity{{Name: "ExpenseApproval", Package: "wimp.samples", Version: "1.0.0.0"}},
		Source:        "embedded", Location: "samples/ExpenseApprovalV2.xml"}
	if !sameDefinition(v2, want) {
		t.Errorf("ExpenseApproval 2.0.0.0 = %+v\nwant %+v", v2, want)
	}
	if hello := byID["Hello 1.0.0.0"]; hello.Source != "embedded" || len(hello.UpdatableFrom) != 0 ||
		!slices.Equal(hello.Arguments, []host.Argument{{Name: "name", Type: "String", Default: "'world'"}}) {
		t.Errorf("Hello: %+v", hello)
	}
	// Sorted by package, name, version.
	for i := 1; i < len(all); i++ {
		a, b := all[i-1].Identity, all[i].Identity
		if a.Package > b.Package || a.Package == b.Package && a.Name > b.Name ||
			a.Package == b.Package && a.Name == b.Name && workflow.CompareVersions(a.Version, b.Version) >= 0 {
			t.Errorf("%v before %v", a, b)
		}
	}

	// --definitions naming one file loads that file, whatever its name.
	single := write("one.workflow", `<Workflow Name="One" Version="1.0"><Sequence/></Workflow>`)
	defs, err = engine.LoadRegistry(single)
	if err != nil {
		t.Fatalf("LoadRegistry(a file): %v", err)
	}
	d, err := defs.Lookup("One", "")
	if err != nil || d.File != single || defs.Embedded(d) {
		t.Errorf("the single file: %v %v", d, err)
	}
	if _, err := defs.Lookup("Mine", ""); err == nil {
		t.Error("a single file loaded its directory's other definitions")
	}
	if _, err := engine.LoadRegistry(filepath.Join(dir, "missing.xml")); err == nil || !strings.Contains(err.Error(), "missing.xml") {
		t.Errorf("a missing path: %v", err)
	}
}

func sameDefinition(a, b host.Definition) bool {
	return a.Identity == b.Identity && slices.Equal(a.Arguments, b.Arguments) && slices.Equal(a.UpdatableFrom, b.UpdatableFrom) &&
		a.Source == b.Source && a.Location == b.Location
}

// At start the host logs each definition it loaded and warns about stored instances whose
// definition is not registered.
func TestStartReportsDefinitions(t *testing.T) {
	st := openStore(t)
	gone := workflow.Identity{Name: "Retired", Package: "acme", Version: "3.1"}
	for _, id := range []workflow.Identity{gone, gone, {Name: "Hello", Package: "wimp.samples", Version: "1.00.0.0"}} {
		if err := st.Commit(bg, store.Change{Op: store.Insert, Instance: &store.Instance{ID: uuid.New(), State: workflow.Suspended,
			Definition: id}}); err != nil {
			t.Fatal(err)
		}
	}
	var log testlog.Buffer
	startHost(t, host.Config{Store: st, UnloadAfter: -1, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	out := log.String()
	for _, want := range []string{
		`level=INFO msg="definition loaded" name=ExpenseApproval version=1.0.0.0 package=wimp.samples source=embedded location=samples/ExpenseApproval.xml`,
		`level=INFO msg="definition loaded" name=Hello version=1.0.0.0 package=wimp.samples source=embedded location=samples/Hello.xml`,
		`level=WARN msg="instances in the store have a definition that is not registered; they cannot run until it is loaded" name=Retired version=3.1 package=acme instances=2`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the start's log lacks\n  %s\nlog:\n%s", want, out)
		}
	}
	// Hello 1.00.0.0 is Hello 1.0.0.0 (System.Version equality): registered.
	if strings.Contains(out, "name=Hello version=1.00.0.0") {
		t.Errorf("instances of a registered definition reported:\n%s", out)
	}
}
