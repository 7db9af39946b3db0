package hosting_test

import (
	"context"
	"testing"
	"time"
)

// TestGetNodes: a server on SQLite is the one live node; it says so (self), reports a
// registration that is current, and counts the instances whose lease it holds — a waiting
// instance (kept loaded) is one, a completed one is not.
func TestGetNodes(t *testing.T) {
	ctx := context.Background()
	c, _, _ := clients(t)
	start := time.Now()
	held := func() int {
		t.Helper()
		nodes, err := c.Nodes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(nodes) != 1 {
			t.Fatalf("%d nodes, want 1: %+v", len(nodes), nodes)
		}
		n := nodes[0]
		now := time.Now()
		if !n.Self || n.ID == "" || n.Name == "" || n.Registered.After(now) || n.Renewed.Before(n.Registered) ||
			n.Renewed.After(now) || !n.Expiry.After(now) {
			t.Fatalf("node %+v at %v", n, now)
		}
		if n.Registered.Before(start.Add(-time.Minute)) {
			t.Fatalf("registered %v, long before the server started (%v)", n.Registered, start)
		}
		return n.Instances
	}
	if n := held(); n != 0 {
		t.Fatalf("a new server holds %d leases", n)
	}
	id := mustCreate(t, c, expense(10))
	if n := held(); n != 1 {
		t.Fatalf("with one instance waiting on its bookmark: %d leases, want 1", n)
	}
	if err := c.ResumeBookmark(ctx, id, "Review", `{"approved": false, "reviewer": "bob"}`); err != nil {
		t.Fatal(err)
	}
	if n := held(); n != 0 {
		t.Fatalf("after the instance completed: %d leases, want 0", n)
	}
}
