package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/wimp-project/wimp/server/servertest"
)

// state is the instance's state as `get -o json` prints it.
func state(t *testing.T, base, id string) string {
	t.Helper()
	r := ctl(base, "get", id, "-o", "json")
	var m map[string]any
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &m) != nil {
		return "gone: " + r.stderr
	}
	return m["state"].(string)
}

// TestBulk: bulk suspend with --wait prints the job and its outcomes and exits 0; every
// selected instance gets what a single Suspend gets (MS-WFIM state table: a terminated one is
// refused with InstanceTerminated); bulk status and bulk cancel read and stop a job.
func TestBulk(t *testing.T) {
	base := servertest.Start(t, "")
	a, b, c := createExpense(t, base), createExpense(t, base), createExpense(t, base)
	if r := ctl(base, "terminate", c, "--reason", "done"); r.code != 0 {
		t.Fatal(r)
	}
	r := ctl(base, "bulk", "suspend", "--definition", "ExpenseApproval", "--reason", "audit", "--rate", "1000", "--wait")
	if r.code != 0 {
		t.Fatalf("bulk suspend --wait: %+v", r)
	}
	for _, want := range []string{"STATUS     Completed", "PROGRESS   3 of about 3 matched, 3 done, 2 ok", "FAULTS     InstanceTerminated 1"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("bulk suspend --wait printed no %q:\n%s", want, r.stdout)
		}
	}
	if !regexp.MustCompile(`(?m)^[123] +` + c + ` +InstanceTerminated `).MatchString(r.stdout) {
		t.Errorf("no InstanceTerminated result for %s:\n%s", c, r.stdout)
	}
	if s := state(t, base, a) + state(t, base, b) + state(t, base, c); s != "SuspendedSuspendedCompleted" {
		t.Errorf("states after the bulk suspend: %s", s)
	}

	// Without --wait (and no terminal) it prints the job id alone; status reads it back.
	r = ctl(base, "bulk", "unsuspend", "--state", "suspended", "--dry-run")
	id := strings.TrimSpace(r.stdout)
	if r.code != 0 || !regexp.MustCompile(`^[0-9a-f-]{36}$`).MatchString(id) {
		t.Fatalf("bulk unsuspend --dry-run: %+v", r)
	}
	r = ctl(base, "bulk", "status", id, "-o", "json")
	var page struct {
		Job struct {
			Operation string `json:"operation"`
			DryRun    bool   `json:"dryRun"`
			Filter    struct {
				State string `json:"state"`
			} `json:"filter"`
		} `json:"job"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &page) != nil || page.Job.Operation != "Unsuspend" || !page.Job.DryRun ||
		page.Job.Filter.State != "Suspended" {
		t.Fatalf("bulk status -o json: %+v", r)
	}
	if s := state(t, base, a); s != "Suspended" {
		t.Errorf("a dry run changed the instance to %s", s)
	}
	// bulk cancel JOB of an ended job prints it unchanged; an unknown job is a fault (exit 2).
	if r := ctl(base, "bulk", "cancel", id); r.code != 0 || !strings.Contains(r.stdout, "OPERATION  Unsuspend (dry run: nothing changed)") {
		t.Errorf("bulk cancel JOB: %+v", r)
	}
	if r := ctl(base, "bulk", "status", "6f1f2b9e-0000-4000-8000-000000000000"); r.code != 2 || !strings.Contains(r.stderr, "BulkOperationNotFound") {
		t.Errorf("bulk status of an unknown job: %+v", r)
	}
}

// TestBulkConfirmation: cancel, terminate and abandon cannot be undone; without a terminal they
// need --yes (exit 64 otherwise, and nothing is started).
func TestBulkConfirmation(t *testing.T) {
	base := servertest.Start(t, "")
	id := createExpense(t, base)
	for _, op := range []string{"cancel", "terminate", "abandon"} {
		r := ctl(base, "bulk", op, "--definition", "ExpenseApproval")
		if r.code != 64 || !strings.Contains(r.stderr, "--yes") {
			t.Errorf("bulk %s without --yes: %+v", op, r)
		}
	}
	if s := state(t, base, id); s != "Active" {
		t.Fatalf("a refused bulk job changed the instance: %s", s)
	}
	r := ctl(base, "bulk", "terminate", "--definition", "ExpenseApproval", "--reason", "end", "--yes", "--wait")
	if r.code != 0 || !strings.Contains(r.stdout, "1 of about 1 matched, 1 done, 1 ok") {
		t.Fatalf("bulk terminate --yes --wait: %+v", r)
	}
	if s := state(t, base, id); s != "Completed" {
		t.Fatalf("after bulk terminate: %s", s)
	}
}

// TestBulkUsage: mistakes are usage errors (exit 64).
func TestBulkUsage(t *testing.T) {
	base := servertest.Start(t, "")
	for _, args := range [][]string{
		{"bulk"},
		{"bulk", "delete"},
		{"bulk", "suspend"}, // no --reason
		{"bulk", "status"},
		{"bulk", "status", "not-a-guid"},
		{"bulk", "update"}, // no --to-name
		{"bulk", "run", "--to-name", "X"},
		{"bulk", "run", "--rate", "-1"},
		{"bulk", "run", "--state", "sleeping"},
		{"purge"}, // no --completed-before
		{"purge", "--completed-before", "1h", "--state", "active", "--yes"},
		{"purge", "--completed-before", "yesterday", "--yes"},
		{"purge", "--completed-before", "1h"}, // no --yes, no terminal
	} {
		if r := ctl(base, args...); r.code != 64 {
			t.Errorf("%v: exit %d (%s); want 64", args, r.code, r.stderr)
		}
	}
}

// TestPurge: purge deletes completed instances that completed before the bound and never a
// live one; the purged id is unknown afterwards.
func TestPurge(t *testing.T) {
	base := servertest.Start(t, "")
	live, done := createExpense(t, base), createExpense(t, base)
	if r := ctl(base, "terminate", done); r.code != 0 {
		t.Fatal(r)
	}
	// Completed just now: not before an hour ago (and the live one was not changed before it either).
	if r := ctl(base, "purge", "--completed-before", "1h", "--dry-run"); r.code != 0 ||
		r.stdout != "would purge 0 completed instances (0 live instances matched and were left alone)\n" {
		t.Fatalf("purge --dry-run: %+v", r)
	}
	future := "2999-01-01T00:00:00Z"
	if r := ctl(base, "purge", "--completed-before", future, "--dry-run"); r.code != 0 ||
		r.stdout != "would purge 1 completed instances (1 live instances matched and were left alone)\n" {
		t.Fatalf("purge --dry-run (all): %+v", r)
	}
	if s := state(t, base, done); s != "Completed" {
		t.Fatalf("the dry run purged: %s", s)
	}
	if r := ctl(base, "purge", "--completed-before", future, "--yes"); r.code != 0 ||
		r.stdout != "purged 1 completed instances (1 live instances matched and were left alone)\n" {
		t.Fatalf("purge --yes: %+v", r)
	}
	if r := ctl(base, "get", done); r.code != 2 || !strings.Contains(r.stderr, "InstanceNotFound") {
		t.Errorf("get of a purged id: %+v", r)
	}
	if r := ctl(base, "track", done); r.code != 2 || !strings.Contains(r.stderr, "InstanceNotFound") {
		t.Errorf("track of a purged id: %+v", r)
	}
	if s := state(t, base, live); s != "Active" {
		t.Errorf("the live instance is %s", s)
	}
}
