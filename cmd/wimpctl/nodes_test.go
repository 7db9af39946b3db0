package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wimp-project/wimp/server/servertest"
)

// TestNodes: wimpctl nodes against a server on SQLite lists one node, the one that answered
// (marked *), holding the lease of the one instance that waits on its bookmark.
func TestNodes(t *testing.T) {
	base := servertest.Start(t, "")
	if r := ctl(base, "create", "--definition", "ExpenseApproval", "--version", "1.0.0.0", "--input", "amount=10", "--input", "submitter=ann"); r.code != 0 {
		t.Fatalf("create: %+v", r)
	}
	r := ctl(base, "nodes")
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if r.code != 0 || r.stderr != "" || len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != "NODE ADVERTISE INSTANCES RENEWED" {
		t.Fatalf("nodes: %+v", r)
	}
	row := strings.Fields(lines[1])
	// NODE *, ADVERTISE (- : the test server advertises none), INSTANCES, RENEWED
	if len(row) != 5 || row[1] != "*" || row[2] != "-" || row[3] != "1" {
		t.Fatalf("nodes row %q", lines[1])
	}
	if r := ctl(base, "nodes", "-o", "wide"); r.code != 0 || strings.Join(strings.Fields(strings.SplitN(r.stdout, "\n", 2)[0]), " ") !=
		"NODE ADVERTISE INSTANCES RENEWED ID INFO REGISTERED EXPIRY" {
		t.Fatalf("nodes -o wide: %+v", r)
	}
	var nodes []struct {
		ID, Name                    string
		Registered, Renewed, Expiry time.Time
		Instances                   int
		Self                        bool
	}
	r = ctl(base, "nodes", "--json")
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &nodes) != nil || len(nodes) != 1 {
		t.Fatalf("nodes --json: %+v", r)
	}
	if n := nodes[0]; !n.Self || n.Instances != 1 || n.ID == "" || n.Name != row[0] || !n.Expiry.After(n.Renewed) {
		t.Errorf("nodes --json: %+v", n)
	}
	if r := ctl(base, "nodes", "extra"); r.code != 64 || r.stderr == "" {
		t.Errorf("nodes extra: %+v", r)
	}
}
