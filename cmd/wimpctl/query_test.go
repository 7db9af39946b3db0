package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wimp-project/wimp/server/servertest"
	"github.com/wimp-project/wimp/workflow"
)

// listed runs list --json with args and returns the fixture names of the instances, in order.
func listed(t *testing.T, base string, names map[string]string, args ...string) string {
	t.Helper()
	r := ctl(base, append([]string{"list", "--json"}, args...)...)
	var list []map[string]any
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &list) != nil {
		t.Fatalf("list %v: %+v", args, r)
	}
	var out []string
	for _, in := range list {
		out = append(out, names[in["id"].(string)])
	}
	return strings.Join(out, ",")
}

func TestListFiltersCountDefinitions(t *testing.T) {
	base := servertest.Start(t, "")
	names := map[string]string{}
	create := func(name string, args ...string) string {
		t.Helper()
		// A millisecond apart at least: the creation order is then the listing's order
		// (instances created in the same millisecond are ordered by id).
		time.Sleep(2 * time.Millisecond)
		r := ctl(base, append([]string{"create"}, args...)...)
		if r.code != 0 {
			t.Fatalf("create %s: %+v", name, r)
		}
		id := strings.TrimSpace(r.stdout)
		names[id] = name
		return id
	}
	must := func(args ...string) {
		t.Helper()
		if r := ctl(base, args...); r.code != 0 {
			t.Fatalf("%v: %+v", args, r)
		}
	}
	// a; t1; audited, hello, rejected, v2; t2; then audited is suspended and rejected rejected.
	create("a", "--definition", "ExpenseApproval", "--version", "1.0.0.0", "--input", "amount=10", "--input", "submitter=ann")
	time.Sleep(5 * time.Millisecond)
	t1 := time.Now().UTC().Format(time.RFC3339Nano)
	time.Sleep(5 * time.Millisecond)
	audited := create("audited", "--definition", "ExpenseApproval", "--version", "1.0.0.0", "--input", "amount=2000", "--input", "submitter=bo")
	create("hello", "--definition", "Hello")
	rejected := create("rejected", "--definition", "FaultOnDemand")
	create("v2", "--definition", "ExpenseApproval", "--version", "2.0.0.0", "--input", "amount=5", "--input", "submitter=cy")
	time.Sleep(5 * time.Millisecond)
	t2 := time.Now().UTC().Format(time.RFC3339Nano)
	time.Sleep(5 * time.Millisecond)
	must("suspend", audited, "--reason", "audit by Bob")
	must("resume-bookmark", rejected, "Attempt", "--payload", `{"fail": true, "message": "no"}`)

	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "a,audited,hello,rejected,v2"},
		{[]string{"--state", "suspended"}, "audited,rejected"},
		{[]string{"--state", "ACTIVE"}, "a,v2"},
		{[]string{"--completion", "closed"}, "hello"},
		{[]string{"--definition", "ExpenseApproval"}, "a,audited,v2"},
		{[]string{"--definition", "ExpenseApproval", "--version", "1.0.0.0"}, "a,audited"},
		{[]string{"--definition", "ExpenseApproval", "--version", "1.0"}, ""},
		{[]string{"--version-min", "2.0"}, "v2"},
		{[]string{"--version-max", "1.0.0.0"}, "a,audited,hello,rejected"},
		{[]string{"--version-min", "1.0.0.1", "--version-max", "10.0"}, "v2"},
		{[]string{"--package", "wimp.samples"}, "a,audited,hello,rejected,v2"},
		{[]string{"--package", "acme"}, ""},
		{[]string{"--exception", "OrderRejected"}, "rejected"},
		{[]string{"--reason-contains", "Bob"}, "audited"},
		{[]string{"--reason-contains", "bob"}, ""},
		{[]string{"--bookmark", "Review"}, "a,audited,v2"},
		{[]string{"--bookmark", "Review", "--state", "active"}, "a,v2"},
		{[]string{"--created-after", "1h"}, "a,audited,hello,rejected,v2"},
		{[]string{"--created-before", "1h"}, ""},
		{[]string{"--created-after", "2999-01-01T00:00:00Z"}, ""},
		{[]string{"--created-after", t1}, "audited,hello,rejected,v2"},
		{[]string{"--created-before", t1}, "a"},
		{[]string{"--updated-after", t2}, "audited,rejected"},
		{[]string{"--updated-before", t2}, "a,hello,v2"},
		{[]string{"--updated-after", t1, "--updated-before", t2, "--definition", "ExpenseApproval"}, "v2"},
	} {
		if got := listed(t, base, names, c.args...); got != c.want {
			t.Errorf("list %v = [%s], want [%s]", c.args, got, c.want)
		}
	}

	// Pages: --limit is the page size, the next page's token goes to stderr; --all follows them.
	r := ctl(base, "list", "--limit", "2")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[0], "ID") || !strings.HasPrefix(r.stderr, "more instances: wimpctl list ... --page-token ") {
		t.Fatalf("list --limit 2: %+v", r)
	}
	token := strings.TrimSpace(strings.TrimPrefix(r.stderr, "more instances: wimpctl list ... --page-token "))
	if got := listed(t, base, names, "--limit", "2", "--page-token", token); got != "hello,rejected" {
		t.Errorf("second page: [%s]", got)
	}
	r = ctl(base, "list", "--json", "--limit", "2", "--page-token", token, "--all")
	if r.code != 0 || r.stderr != "" || strings.Count(r.stdout, `"id"`) != 3 {
		t.Errorf("--all from the second page: %+v", r)
	}
	if r := ctl(base, "list", "--all", "--limit", "2"); r.code != 0 || r.stderr != "" || strings.Count(r.stdout, "\n") != 6 {
		t.Errorf("list --all --limit 2: %+v", r)
	}
	r = ctl(base, "list", "--json", "--state", "Completed")
	if r.code != 0 || !strings.Contains(r.stdout, `"greeting": "Hello, world!"`) {
		t.Errorf("list --json includes the variables: %+v", r)
	}

	// Counts.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"count"}, "5\n"},
		{[]string{"count", "--state", "suspended"}, "2\n"},
		{[]string{"count", "--by", "state"}, "STATE      COUNT\nActive     2\nSuspended  2\nCompleted  1\ntotal 5\n"},
		{[]string{"count", "--by", "definition", "--bookmark", "Review"},
			"DEFINITION       VERSION  PACKAGE       COUNT\nExpenseApproval  1.0.0.0  wimp.samples  2\nExpenseApproval  2.0.0.0  wimp.samples  1\ntotal 3\n"},
		{[]string{"count", "--by", "exception", "--state", "Suspended"}, "EXCEPTION      COUNT\n(none)         1\nOrderRejected  1\ntotal 2\n"},
		{[]string{"count", "--by", "state", "--json", "--completion", "Closed"}, `{
  "total": 1,
  "groups": [
    {
      "state": "Completed",
      "count": 1
    }
  ]
}
`},
	} {
		r := ctl(base, c.args...)
		if r.code != 0 || r.stdout != c.want {
			t.Errorf("%v: exit %d\n%s\nwant\n%s\nstderr: %s", c.args, r.code, r.stdout, c.want, r.stderr)
		}
	}

	// Definitions.
	r = ctl(base, "definitions", "--json")
	var defs []struct {
		workflow.Identity
		Source, Location string
		Arguments        []struct {
			Name, Type, Default string
			Required            bool
		}
		UpdatableFrom []workflow.Identity
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &defs) != nil {
		t.Fatalf("definitions --json: %+v", r)
	}
	i := slices.IndexFunc(defs, func(d struct {
		workflow.Identity
		Source, Location string
		Arguments        []struct {
			Name, Type, Default string
			Required            bool
		}
		UpdatableFrom []workflow.Identity
	}) bool {
		return d.Name == "ExpenseApproval" && d.Version == "2.0.0.0"
	})
	if i < 0 || defs[i].Source != "embedded" || defs[i].Location != "samples/ExpenseApprovalV2.xml" || len(defs[i].Arguments) != 3 ||
		defs[i].Arguments[2].Name != "reviewTimeout" || defs[i].Arguments[2].Default != "'240h'" || !defs[i].Arguments[0].Required ||
		!slices.Equal(defs[i].UpdatableFrom, []workflow.Identity{{Name: "ExpenseApproval", Package: "wimp.samples", Version: "1.0.0.0"}}) {
		t.Errorf("definitions --json, ExpenseApproval 2.0.0.0: %+v", defs)
	}
	r = ctl(base, "definitions", "-o", "wide")
	var row string
	for _, l := range strings.Split(r.stdout, "\n") {
		if f := strings.Fields(l); len(f) > 2 && f[0] == "ExpenseApproval" && f[1] == "2.0.0.0" {
			row = l
		}
	}
	if r.code != 0 || !strings.HasPrefix(r.stdout, "NAME ") || !strings.Contains(row, " wimp.samples ") ||
		!strings.Contains(row, " embedded  samples/ExpenseApprovalV2.xml ") ||
		!strings.Contains(row, " amount:Number (required), submitter:String (required), reviewTimeout:String = '240h' ") ||
		!strings.HasSuffix(row, " ExpenseApproval 1.0.0.0") {
		t.Errorf("definitions -o wide: row %q in %+v", row, r)
	}
	// The table leaves out where a definition comes from and what it updates.
	r = ctl(base, "definitions")
	if lines := strings.Split(r.stdout, "\n"); r.code != 0 || lines[0] != "NAME                VERSION  PACKAGE       ARGUMENTS" ||
		strings.Contains(r.stdout, "embedded") {
		t.Errorf("definitions: %+v", r)
	}

	// Usage errors exit 64; a token the server refuses is its InvalidArgument fault (exit 2).
	for _, args := range [][]string{
		{"list", "--state", "sleeping"},
		{"list", "--completion", "done"},
		{"list", "--version", "1"},
		{"list", "--version-min", "one"},
		{"list", "--created-after", "yesterday"},
		{"list", "--updated-before", "-1h"},
		{"list", "--limit", "1001"},
		{"list", "--limit", "-1"},
		{"list", "extra"},
		{"count", "--by", "colour"},
		{"count", "--reason-contains"},
		{"definitions", "x"},
		{"count", "-o", "yaml"},
	} {
		if r := ctl(base, args...); r.code != 64 || r.stderr == "" {
			t.Errorf("%v: exit %d, stderr %q; want 64 with a message", args, r.code, r.stderr)
		}
	}
	r = ctl(base, "list", "--page-token", "garbage")
	if r.code != 2 || !strings.HasPrefix(r.stderr, "wimpctl: fault (Sender {urn:wimp:workflow-hosting:2026-11}InvalidArgument): ") ||
		!strings.Contains(r.stderr, "malformed page token") {
		t.Errorf("a bad token: %+v", r)
	}
}

func TestParseWhen(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"2026-11-30T08:00:00Z":           time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC),
		"2026-11-30T09:00:00.5+01:00":    time.Date(2026, 11, 30, 8, 0, 0, 5e8, time.UTC),
		"24h":                            time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC),
		"90m":                            time.Date(2026, 12, 1, 10, 30, 0, 0, time.UTC),
		"1h30m15s":                       time.Date(2026, 12, 1, 10, 29, 45, 0, time.UTC),
		"2026-12-01T12:00:00.000000001Z": time.Date(2026, 12, 1, 12, 0, 0, 1, time.UTC),
	} {
		got, err := parseWhen(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseWhen(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "yesterday", "-1h", "0s", "2026-11-30", "2026-11-30 08:00:00Z", "1d"} {
		if _, err := parseWhen(in, now); err == nil {
			t.Errorf("parseWhen(%q) accepted", in)
		}
	}
	for in, want := range map[string]workflow.State{"active": "Active", "SUSPENDED": "Suspended", "Completed": "Completed", "": ""} {
		if got, err := parseState(in); err != nil || got != want {
			t.Errorf("parseState(%q) = %q, %v", in, got, err)
		}
	}
	for in, want := range map[string]workflow.Completion{"closed": "Closed", "CANCELED": "Canceled", "terminated": "Terminated", "Faulted": "Faulted"} {
		if got, err := parseCompletion(in); err != nil || got != want {
			t.Errorf("parseCompletion(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := parseCompletion("cancelled"); !isUsageError(err) {
		t.Errorf("parseCompletion(cancelled): %v", err)
	}
}

// FuzzFilterFlags: the filter flags' parsers either refuse a value with a usage error or read
// it as the text says: a time as RFC 3339, a duration as that long before now, a state or
// completion as the name it spells in any case.
func FuzzFilterFlags(f *testing.F) {
	for _, s := range []string{"2026-11-30T08:00:00Z", "24h", "-5m", "1.5h", "active", "Faulted", "yesterday", "0"} {
		f.Add(s)
	}
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		if got, err := parseWhen(s, now); err == nil {
			rfc, rerr := time.Parse(time.RFC3339Nano, s)
			d, derr := time.ParseDuration(s)
			switch {
			case rerr == nil && !got.Equal(rfc):
				t.Fatalf("parseWhen(%q) = %v, the time it spells is %v", s, got, rfc)
			case rerr != nil && (derr != nil || d <= 0 || !got.Equal(now.Add(-d))):
				t.Fatalf("parseWhen(%q) = %v", s, got)
			}
		}
		var ff filterFlags
		ff.state, ff.completion = s, s
		st, err := parseState(s)
		if err == nil && !strings.EqualFold(string(st), s) {
			t.Fatalf("parseState(%q) = %q", s, st)
		}
		if err != nil && !isUsageError(err) {
			t.Fatalf("parseState(%q): %v is not a usage error", s, err)
		}
		c, err := parseCompletion(s)
		if err == nil && !strings.EqualFold(string(c), s) {
			t.Fatalf("parseCompletion(%q) = %q", s, c)
		}
		if _, err := ff.filter(now); err != nil && !isUsageError(err) {
			t.Fatalf("filter with %q: %v is not a usage error", s, err)
		}
	})
}

// --parent lists the children an instance's InvokeWorkflow started; get shows a child's parent.
func TestListChildren(t *testing.T) {
	base := servertest.Start(t, "")
	r := ctl(base, "create", "--definition", "DocumentApproval", "--input", "document=spec-3", "--input", `reviewers=["ann"]`)
	if r.code != 0 {
		t.Fatalf("create: %+v", r)
	}
	parent := strings.TrimSpace(r.stdout)
	r = ctl(base, "get", "key:review/spec-3/ann")
	if r.code != 0 || !strings.Contains(r.stdout, "parent") || !strings.Contains(r.stdout, parent) {
		t.Fatalf("get of the child does not show its parent %s: %+v", parent, r)
	}
	r = ctl(base, "list", "--json", "--parent", parent)
	if r.code != 0 || strings.Count(r.stdout, `"id"`) != 1 || !strings.Contains(r.stdout, `"parent": "`+parent+`"`) {
		t.Fatalf("list --parent: %+v", r)
	}
	if r := ctl(base, "list", "--parent", "nobody"); r.code != 64 || !strings.Contains(r.stderr, `--parent "nobody" is not an instance id`) {
		t.Fatalf("list --parent nobody: %+v", r)
	}
}
