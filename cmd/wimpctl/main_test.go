package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/wimp-project/wimp/server/servertest"
)

// TestMain clears the environment wimpctl reads, so that a developer's own settings do not
// change what the tests send.
func TestMain(m *testing.M) {
	for _, k := range []string{"WIMP_ENDPOINT", "WIMP_USER", "WIMP_PASSWORD"} {
		os.Unsetenv(k)
	}
	os.Exit(m.Run())
}

type result struct {
	code           int
	stdout, stderr string
}

func ctl(base string, args ...string) result {
	return ctlIn("", append([]string{"--endpoint", base}, args...)...)
}

// ctlIn runs a command line (no --endpoint added) with stdin.
func ctlIn(stdin string, args ...string) result {
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errb)
	return result{code, out.String(), errb.String()}
}

// createExpense creates an ExpenseApproval instance waiting for its review and returns its id.
func createExpense(t *testing.T, base string) string {
	t.Helper()
	r := ctl(base, "create", "--definition", "ExpenseApproval", "--version", "1.0.0.0",
		"--input", "amount=1500", "--input", "submitter=ann", "--input", "reviewTimeout=240h")
	if r.code != 0 {
		t.Fatalf("create: %+v", r)
	}
	return strings.TrimSpace(r.stdout)
}

func TestCommands(t *testing.T) {
	base := servertest.Start(t, "")
	id := createExpense(t, base)

	getJSON := func() map[string]any {
		t.Helper()
		r := ctl(base, "get", id, "--json")
		var m map[string]any
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &m) != nil {
			t.Fatalf("get --json: %+v", r)
		}
		return m
	}
	m := getJSON()
	for _, key := range []string{"id", "state", "completion", "suspensionReason", "bookmarks", "definition", "variables"} {
		if _, ok := m[key]; !ok {
			t.Errorf("get --json lacks %q (README.md, wimpctl get --json): %v", key, m)
		}
	}
	if m["state"] != "Active" || m["variables"].(map[string]any)["reviewTimeout"] != nil {
		t.Errorf("get --json: %v", m)
	}

	for _, step := range []struct {
		args  []string
		code  int
		state string
	}{
		{[]string{"suspend", id, "--reason", "audit"}, 0, "Suspended"},
		{[]string{"run", id}, 2, "Suspended"},
		{[]string{"unsuspend", id, "--transacted"}, 0, "Active"},
		{[]string{"update", id}, 2, "Active"}, // a nil identity: UpdateFailed
		{[]string{"update", id, "--name", "ExpenseApproval", "--package", "wimp.samples", "--version", "2.0.0.0"}, 0, "Active"},
		{[]string{"resume-bookmark", id, "Review", "--payload", `{"approved": true, "reviewer": "bob"}`}, 0, "Active"},
		{[]string{"abandon", id, "--reason", "r"}, 0, "Active"},
		{[]string{"terminate", id, "--reason", "done", "--transacted"}, 0, "Completed"},
		{[]string{"cancel", id}, 2, "Completed"},
	} {
		r := ctl(base, step.args...)
		if r.code != step.code {
			t.Fatalf("%v: exit %d, want %d: %+v", step.args, r.code, step.code, r)
		}
		if step.code == 2 && !strings.Contains(r.stderr, "{http://schemas.datacontract.org/2008/10/WorkflowServices}") {
			t.Errorf("%v: a fault prints its subcode: %q", step.args, r.stderr)
		}
		if got := getJSON()["state"]; got != step.state {
			t.Fatalf("after %v: state %v, want %s", step.args, got, step.state)
		}
	}
	m = getJSON()
	if m["completion"] != "Terminated" || m["definition"].(map[string]any)["version"] != "2.0.0.0" ||
		m["variables"].(map[string]any)["approvals"] != 1.0 {
		t.Errorf("final instance: %v", m)
	}

	r := ctl(base, "list", "--state", "Completed", "--json")
	var list []map[string]any
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &list) != nil || len(list) != 1 || list[0]["id"] != id {
		t.Errorf("list --json: %+v", r)
	}
	r = ctl(base, "track", id, "--json")
	var recs []map[string]any
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &recs) != nil || len(recs) == 0 {
		t.Fatalf("track --json: %+v", r)
	}
	names := map[string]bool{}
	for _, rec := range recs {
		names[rec["name"].(string)] = true
	}
	for _, n := range []string{"Created", "Suspended", "Unsuspended", "Updated", "Review", "Aborted", "Terminated"} {
		if !names[n] {
			t.Errorf("track lacks a %s record", n)
		}
	}
	if r := ctl(base, "--soap", "1.2", "get", id); r.code != 0 || !strings.Contains(r.stdout, "Terminated") {
		t.Errorf("get over SOAP 1.2: %+v", r)
	}
}

func TestUsageErrors(t *testing.T) {
	base := servertest.Start(t, "")
	for _, args := range [][]string{
		{"frobnicate"},
		{"suspend", "3f2504e0-4f89-41d3-9a0c-0305e82c3301"},
		{"run", "not-a-guid"},
		{"run"},
		{"abandon", "3f2504e0-4f89-41d3-9a0c-0305e82c3301", "--transacted"},
		{"cancel", "3f2504e0-4f89-41d3-9a0c-0305e82c3301", "--reason", "x"},
		{"create"},
		{"create", "--definition", "Hello", "--input", "novalue"},
		{"resume-bookmark", "3f2504e0-4f89-41d3-9a0c-0305e82c3301", "B", "--payload", "{not json"},
		{"resume-bookmark", "3f2504e0-4f89-41d3-9a0c-0305e82c3301"},
		{"update", "3f2504e0-4f89-41d3-9a0c-0305e82c3301", "--version", "2.0.0.0"}, // --version needs --name
		{"get", "3f2504e0-4f89-41d3-9a0c-0305e82c3301", "--version"},               // the tool's --version goes first
		{"--soap", "1.3", "list"},
		{"list", "--soap", "1.3"},
		{"--timeout", "-1s", "list"},
		{"track", "3f2504e0-4f89-41d3-9a0c-0305e82c3301", "--follow", "--poll-interval", "0s"},
	} {
		if r := ctl(base, args...); r.code != 64 || r.stderr == "" || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want 64 with a one-line message", args, r.code, r.stderr)
		}
	}
	if r := ctl(base, "get", "3f2504e0-4f89-41d3-9a0c-0305e82c3301"); r.code != 2 || !strings.Contains(r.stderr, "InstanceNotFound") {
		t.Errorf("get of an unknown id: %+v", r)
	}
}
