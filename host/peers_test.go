package host_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/workflow"
)

// loopPeers is Peers as if over the network: it hands each request to the other host's Accept
// as the principal the caller's context carries — or, with fail, does not deliver it.
type loopPeers struct {
	to   map[string]*host.Host // by owner id
	fail bool

	mu   sync.Mutex
	sent []host.Request
	as   []host.Principal
}

func (p *loopPeers) Apply(ctx context.Context, to store.Owner, r host.Request) error {
	p.mu.Lock()
	p.sent, p.as = append(p.sent, r), append(p.as, host.PrincipalFrom(ctx))
	p.mu.Unlock()
	if p.fail {
		return fmt.Errorf("%w: connection refused", host.ErrNotSent)
	}
	h, ok := p.to[to.ID]
	if !ok {
		return fmt.Errorf("%w: no node %s", host.ErrNotSent, to.ID)
	}
	// What crosses the network is the request's JSON and the refusal's.
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("%w: %v", host.ErrNotSent, err)
	}
	var got host.Request
	if err := json.Unmarshal(b, &got); err != nil {
		return fmt.Errorf("%w: %v", host.ErrNotSent, err)
	}
	ref := host.RefusalOf(h.Accept(host.WithPrincipal(context.Background(), host.PrincipalFrom(ctx)), got))
	if ref == nil {
		return nil
	}
	b, _ = json.Marshal(ref)
	var back host.Refusal
	if err := json.Unmarshal(b, &back); err != nil {
		return err
	}
	return back.Err()
}

// twoNodes are two hosts on one store: b advertises a URL and holds what it creates (never
// unloaded); a runs the bulk jobs and the dashboard's Do, reaching b through peers.
func twoNodes(t *testing.T) (a, b *host.Host, peers *loopPeers) {
	st := openStore(t)
	b = bulkHost(t, host.Config{Store: st, UnloadAfter: time.Hour, Node: "b", Advertise: "http://b.invalid"})
	a = bulkHost(t, host.Config{Store: st, UnloadAfter: time.Hour, Node: "a", Advertise: "http://a.invalid"})
	peers = &loopPeers{to: map[string]*host.Host{b.Self(): b}}
	a.SetPeers(peers)
	return a, b, peers
}

// A bulk job meets instances another live node holds: each is handed to that node, applied
// there as the job's principal, and its tracking record names the job, as on one node.
func TestBulkItemsGoToTheHolder(t *testing.T) {
	a, b, peers := twoNodes(t)
	var ids []uuid.UUID
	for range 3 {
		ids = append(ids, createExpense(t, b, 10))
	}
	mustManage(t, b, "Terminate", ids[2], "gone")
	ctx := host.WithPrincipal(bg, host.Principal{Name: "ada", Address: "10.0.0.9:4000", Role: host.Admin})
	j, err := a.StartBulk(ctx, host.BulkRequest{Operation: "Suspend", Filter: host.Filter{Definition: "ExpenseApproval"},
		Reason: "audit", RatePerSecond: 1000})
	if err != nil {
		t.Fatal(err)
	}
	j, items := waitJob(t, a, j.ID)
	if j.Status != "Completed" || j.OK != 2 || fmt.Sprint(j.Faults) != "map[InstanceTerminated:1]" {
		t.Fatalf("job %+v items %+v", j, items)
	}
	// The terminated instance is not leased (its Terminate unloaded it): a applied it itself.
	if len(peers.sent) != 2 {
		t.Fatalf("handed %d requests to b, want 2: %+v", len(peers.sent), peers.sent)
	}
	for i, r := range peers.sent {
		if r.Operation != "Suspend" || r.Reason != "audit" || r.Job != j.ID || r.DryRun || peers.as[i].String() != "ada@10.0.0.9:4000" {
			t.Errorf("request %d: %+v as %+v", i, r, peers.as[i])
		}
	}
	for _, id := range ids[:2] {
		in, _ := get(t, b, id)
		if in.State != workflow.Suspended || in.SuspensionReason != "audit" {
			t.Fatalf("instance %s: %s %q", id, in.State, in.SuspensionReason)
		}
		var last workflow.Record
		for _, r := range records(t, b, id) {
			if r.Name == "Suspended" {
				last = r
			}
		}
		var data map[string]string
		if err := json.Unmarshal([]byte(last.Data), &data); err != nil {
			t.Fatalf("%v in the Suspended record %+v", err, last)
		}
		if last.Name != "Suspended" || last.Principal != "ada@10.0.0.9:4000" || data["job"] != j.ID.String() {
			t.Errorf("instance %s: Suspended record %+v", id, last)
		}
	}
}

// The holder's refusal comes back as the same kind of error, so a bulk item or the dashboard
// names it as on one node; a request that never reached the holder is this node's own
// refusal (the store's Unavailable); and a request another node handed on is not handed on again.
func TestDoRefusalsAcrossNodes(t *testing.T) {
	a, b, peers := twoNodes(t)
	id := createExpense(t, b, 10)
	err := a.Do(bg, host.Request{Operation: host.OpResumeBookmark, Instance: id, Bookmark: "NoSuchBookmark"})
	if !errors.Is(err, host.ErrBookmarkNotFound) {
		t.Errorf("resuming a missing bookmark through b: %v, want ErrBookmarkNotFound", err)
	}
	if err := a.Do(bg, host.Request{Operation: "Update", Instance: id, Identity: &workflow.Identity{Name: "ExpenseApproval", Version: "9.0.0.0"}}); !errors.Is(err, host.ErrUpdateRefused) {
		t.Errorf("an Update to an unknown version through b: %v, want ErrUpdateRefused", err)
	}
	if err := a.Do(bg, host.Request{Operation: "Suspend", Instance: id, DryRun: true}); err != nil {
		t.Errorf("a dry-run Suspend through b: %v", err)
	}
	if in, _ := get(t, b, id); in.State != workflow.Active {
		t.Fatalf("after the dry run the instance is %s", in.State)
	}
	peers.fail = true
	if err := a.Do(bg, host.Request{Operation: "Suspend", Instance: id}); !errors.Is(err, host.ErrUnavailable) || !errors.Is(err, store.ErrLeased) {
		t.Errorf("Suspend with b unreachable: %v, want a's Unavailable for b's lease", err)
	}
	n := len(peers.sent)
	if err := a.Do(host.WithoutPeers(bg), host.Request{Operation: "Suspend", Instance: id}); !errors.Is(err, store.ErrLeased) {
		t.Errorf("Suspend in a forwarded request: %v, want the lease refusal", err)
	}
	if len(peers.sent) != n {
		t.Errorf("a request marked WithoutPeers was handed on")
	}
	peers.fail = false
	if err := a.Do(bg, host.Request{Operation: "Suspend", Instance: id, Reason: "now"}); err != nil {
		t.Fatalf("Suspend through b: %v", err)
	}
	if in, _ := get(t, b, id); in.State != workflow.Suspended || in.SuspensionReason != "now" {
		t.Fatalf("instance %s %q", in.State, in.SuspensionReason)
	}
	// Meeting another live node's lease is not a store failure (wimp_store_errors_total).
	if errs := a.StoreErrors(); len(errs) != 0 {
		t.Errorf("a counted store errors %v; want none", errs)
	}
}

// hookStore runs before once, just before the first Commit that carries a record named name.
type hookStore struct {
	store.Store
	name   string
	before func()
	once   sync.Once
}

func (s *hookStore) Commit(ctx context.Context, changes ...store.Change) error {
	for _, c := range changes {
		for _, r := range c.Records {
			if r.Name == s.name {
				s.once.Do(s.before)
			}
		}
	}
	return s.Store.Commit(ctx, changes...)
}

// An Abandon is decided on the instance as read; when another node changes it before the
// Abandon's record is committed (here b terminates it: a node that holds no lease of an
// unloaded instance may), the record is refused and the operation decided again on the row as
// it now is: InstanceTerminated, no Aborted record — not an Abandon acknowledged after the end.
func TestAbandonDecidedAgainAfterAnotherNodesChange(t *testing.T) {
	st := openStore(t)
	b := startHost(t, host.Config{Store: st, UnloadAfter: -1, Node: "b"})
	id := createExpense(t, b, 10)
	mustManage(t, b, "Suspend", id, "paused") // persisted and unloaded: nobody holds it
	hs := &hookStore{Store: st, name: "Aborted", before: func() { mustManage(t, b, "Terminate", id, "ended on b") }}
	a := startHost(t, host.Config{Store: hs, UnloadAfter: -1, Node: "a"})
	err := manage(t, a, "Abandon", id, "abandon on a")
	if got := subcode(err); got != "InstanceTerminated" {
		t.Fatalf("Abandon on a while b terminated the instance: %v (subcode %q), want InstanceTerminated", err, got)
	}
	recs, err := st.Records(bg, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n := countKind(recs, workflow.InstanceRecord, "Aborted"); n != 0 {
		t.Fatalf("%d Aborted records after the Terminate, want 0", n)
	}
	if n := countKind(recs, workflow.InstanceRecord, "Terminated"); n != 1 {
		t.Fatalf("%d Terminated records, want 1", n)
	}
}
