package e2e

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/google/uuid"

	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/hosting"
	"github.com/wimp-project/wimp/protocol"
	"github.com/wimp-project/wimp/soap"
)

// An ExpenseApproval instance waiting on its Review bookmark survives kill -9 of the server —
// including a review that was acknowledged before the kill — and completes after the restart
// (docs/protocol.md, Durability; an instance passivated by one process resumes in another).
func TestExpenseApprovalSurvivesKill9(t *testing.T) {
	s := startServer(t)
	// Above 1000: two approvals are needed.
	id := s.create("ExpenseApproval", "--input", "amount=1500", "--input", "submitter=alice")
	inst := s.get(id)
	if inst.State != "Active" || len(inst.Bookmarks) != 1 || inst.Bookmarks[0] != "Review" {
		t.Fatalf("after create: want Active waiting on [Review], got %s %v", inst.State, inst.Bookmarks)
	}

	s.ok("resume-bookmark", id, "Review", "--payload", `{"approved":true,"reviewer":"first"}`)
	s.Kill9()
	s.restart()

	inst = s.get(id)
	if inst.State != "Active" || num(inst, "approvals") != 1 || str(inst, "status") != "Pending" {
		t.Fatalf("after kill -9 and restart: want Active, approvals 1, status Pending; got %s, %v", inst.State, inst.Variables)
	}
	if len(inst.Bookmarks) != 1 || inst.Bookmarks[0] != "Review" {
		t.Fatalf("after restart: want bookmarks [Review], got %v", inst.Bookmarks)
	}

	// Kill it once more while idle, with nothing acknowledged since: still there.
	s.Kill9()
	s.restart()
	s.ok("resume-bookmark", id, "Review", "--payload", `{"approved":true,"reviewer":"x"}`)
	inst = s.get(id)
	if inst.State != "Completed" || inst.Completion != "Closed" {
		t.Fatalf("after the second approval: want Completed/Closed, got %s/%s", inst.State, inst.Completion)
	}
	if str(inst, "status") != "Approved" || num(inst, "approvals") != 2 {
		t.Fatalf("want status Approved with 2 approvals, got %v", inst.Variables)
	}
	// The completion itself is durable too.
	s.Kill9()
	s.restart()
	if inst = s.get(id); inst.State != "Completed" || str(inst, "status") != "Approved" {
		t.Fatalf("after a kill -9 following completion: %s %v", inst.State, inst.Variables)
	}
	// And a completed instance answers the protocol's fault.
	s.wantFault("InstanceCompleted", "run", id)
}

// wfimState is what the state table (docs/protocol.md) says an instance is after the operations a
// client saw acknowledged.
type wfimState struct {
	State            string // Active, Suspended, Completed
	Completion       string // "", Canceled, Terminated
	SuspensionReason string
	CompletionReason string
}

// apply returns the state after op (reason: its reason argument) and the fault subcode the
// table prescribes ("" for success).
func (m wfimState) apply(op, reason string) (wfimState, string) {
	if m.State == "Completed" {
		if m.Completion == "Terminated" {
			return m, "InstanceTerminated"
		}
		return m, "InstanceCompleted"
	}
	switch op {
	case "Suspend", "TransactedSuspend":
		return wfimState{State: "Suspended", SuspensionReason: reason}, ""
	case "Unsuspend", "TransactedUnsuspend":
		return wfimState{State: "Active"}, ""
	case "Cancel", "TransactedCancel":
		return wfimState{State: "Completed", Completion: "Canceled"}, ""
	case "Terminate", "TransactedTerminate":
		return wfimState{State: "Completed", Completion: "Terminated", CompletionReason: reason}, ""
	}
	panic("unknown op " + op)
}

func (m wfimState) matches(inst *hosting.Instance) bool {
	got := wfimState{State: string(inst.State), Completion: inst.Completion, SuspensionReason: inst.SuspensionReason}
	if inst.Completion == "Terminated" {
		got.CompletionReason = inst.CompletionReason
	}
	return got == m
}

// callWFIM sends one MS-WFIM operation (reason "" = none) through the Go SOAP client.
func callWFIM(ctx context.Context, c *soap.Client, opName string, id uuid.UUID, reason string) error {
	op, ok := protocol.OpByName(opName)
	if !ok {
		return fmt.Errorf("no operation %s", opName)
	}
	body := etree.NewElement(op.Name)
	body.CreateAttr("xmlns", protocol.NS)
	body.CreateElement("instanceId").SetText(id.String())
	if reason != "" {
		body.CreateElement("reason").SetText(reason)
	}
	_, err := c.Call(ctx, op.Action(), body)
	return err
}

func faultSubcode(err error) (string, bool) {
	var f *soap.Fault
	if !errors.As(err, &f) {
		return "", false
	}
	if len(f.Subcodes) == 0 {
		return "(none)", true
	}
	return f.Subcodes[len(f.Subcodes)-1].Local, true
}

// stressInstance is one instance of the kill -9 test: the state its acknowledged operations
// lead to, and the operation that was in flight when the server died (its effect may or may not
// have been committed).
type stressInstance struct {
	id      uuid.UUID
	model   wfimState
	pending *[2]string // op, reason
	acked   int
}

// Every MS-WFIM operation answered with success is in effect after kill -9: many instances get
// concurrent streams of Suspend/Unsuspend/Cancel/Terminate (plain and Transacted); the server is
// killed with SIGKILL at a random moment mid-stream, restarted, and every instance must be in the
// state its acknowledged operations produce — or, for the single operation that was in flight
// on its stream, the state that one produces. Three rounds on the same database.
func TestAcknowledgedOperationsSurviveKill9(t *testing.T) {
	const (
		instances = 96
		workers   = 16
		rounds    = 3
	)
	s := startServer(t)
	ctx := context.Background()
	var all []*stressInstance
	// topUp creates instances until `instances` of them are live (not completed), so that every
	// round has live ones however many the previous rounds ended.
	topUp := func() {
		live := 0
		for _, in := range all {
			if in.model.State != "Completed" {
				live++
			}
		}
		for ; live < instances; live++ {
			id, err := s.hosting().Create(ctx, host.CreateRequest{Definition: "ExpenseApproval",
				Inputs: map[string]any{"amount": 10 + live, "submitter": "stress"}})
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, &stressInstance{id: id, model: wfimState{State: "Active"}})
		}
	}
	// Weighted so that most instances stay alive across rounds (about 1 operation in 11 ends one).
	var ops []string
	for i := 0; i < 5; i++ {
		ops = append(ops, "Suspend", "Suspend", "Suspend", "TransactedSuspend", "Unsuspend", "Unsuspend", "Unsuspend", "TransactedUnsuspend")
	}
	ops = append(ops, "Cancel", "TransactedCancel", "Terminate", "TransactedTerminate")

	for round := 1; round <= rounds; round++ {
		topUp()
		var wg sync.WaitGroup
		var mu sync.Mutex
		acked, faults := 0, 0
		stop := make(chan struct{})
		for w := 0; w < workers; w++ {
			var mine []*stressInstance
			for i := w; i < len(all); i += workers {
				mine = append(mine, all[i])
			}
			wg.Add(1)
			go func(w int, mine []*stressInstance) {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(round), uint64(w)))
				c := s.control()
				for n := 0; ; n++ {
					select {
					case <-stop:
						return
					default:
					}
					in := mine[rng.IntN(len(mine))]
					if in.model.State == "Completed" && rng.IntN(10) != 0 {
						// Mostly address live instances; a completed one now and then checks its fault.
						var live []*stressInstance
						for _, x := range mine {
							if x.model.State != "Completed" {
								live = append(live, x)
							}
						}
						if len(live) > 0 {
							in = live[rng.IntN(len(live))]
						}
					}
					op := ops[rng.IntN(len(ops))]
					reason := ""
					if op == "Suspend" || op == "TransactedSuspend" || op == "Terminate" || op == "TransactedTerminate" {
						reason = fmt.Sprintf("r%d-w%d-n%d", round, w, n)
					}
					cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
					err := callWFIM(cctx, c, op, in.id, reason)
					cancel()
					next, wantFault := in.model.apply(op, reason)
					sub, isFault := faultSubcode(err)
					switch {
					case err == nil:
						if wantFault != "" {
							t.Errorf("%s %s on %s state %+v: succeeded, the table says fault %s", op, reason, in.id, in.model, wantFault)
						}
						in.model = next
						in.acked++
						mu.Lock()
						acked++
						mu.Unlock()
					case isFault:
						if sub != wantFault {
							t.Errorf("%s on %s state %+v: fault %s (%v), want %q", op, in.id, in.model, sub, err, wantFault)
						}
						mu.Lock()
						faults++
						mu.Unlock()
					default:
						// No reply: the server died while this one was in flight.
						in.pending = &[2]string{op, reason}
						return
					}
				}
			}(w, mine)
		}
		delay := 150*time.Millisecond + rand.N(600*time.Millisecond)
		time.Sleep(delay)
		s.Kill9()
		close(stop)
		wg.Wait()
		mu.Lock()
		t.Logf("round %d: killed after %v; %d operations acknowledged, %d expected faults", round, delay, acked, faults)
		if acked == 0 {
			t.Fatalf("round %d: no operation was acknowledged before the kill: the test proved nothing", round)
		}
		mu.Unlock()
		if t.Failed() {
			return
		}

		s.restart()
		hc := s.hosting()
		for _, in := range all {
			want := []wfimState{in.model}
			if in.pending != nil {
				if alt, f := in.model.apply(in.pending[0], in.pending[1]); f == "" {
					want = append(want, alt)
				}
			}
			// A Cancel whose request was committed but not yet executed is run by startup
			// recovery: give it a moment.
			deadline := time.Now().Add(10 * time.Second)
			for {
				inst, err := hc.GetInstance(ctx, in.id)
				if err != nil {
					t.Fatalf("round %d: get %s: %v", round, in.id, err)
				}
				ok := false
				for i, w := range want {
					if w.matches(inst) {
						ok = true
						in.model = want[i]
					}
				}
				if ok {
					break
				}
				if time.Now().After(deadline) {
					t.Errorf("round %d: instance %s after kill -9: state=%s completion=%s suspensionReason=%q completionReason=%q; "+
						"acknowledged operations lead to %+v (in flight: %v)", round, in.id, inst.State, inst.Completion,
						inst.SuspensionReason, inst.CompletionReason, in.model, in.pending)
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			in.pending = nil
		}
		if t.Failed() {
			return
		}
	}
	total := 0
	for _, in := range all {
		total += in.acked
	}
	t.Logf("%d acknowledged operations checked over %d rounds", total, rounds)
}

// SQLite serves one server per database file: a second wimp-server started on the database of
// a running one refuses to start, naming the first (its process and address), and changes
// nothing; once the first is stopped, a server starts on the file again.
func TestSecondServerOnOneDatabaseIsRefused(t *testing.T) {
	s := startServer(t)
	id := s.create("ExpenseApproval", "--input", "amount=10", "--input", "submitter=ann")
	out, err := exec.Command(serverBin, "--listen", "127.0.0.1:0", "--db", s.DB).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("second server on the same database: %v, want exit status 1; output:\n%s", err, out)
	}
	for _, want := range []string{"database in use", "listening on " + strings.TrimPrefix(s.URL, "http://"), "one wimp-server per database file"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the refusal does not say %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "msg=listening") {
		t.Fatalf("the second server listened:\n%s", out)
	}
	if inst := s.get(id); inst.State != "Active" {
		t.Fatalf("the first server's instance after the refusal: %s", inst.State)
	}
	s.Stop()
	s.restart()
	if inst := s.get(id); inst.State != "Active" || len(inst.Bookmarks) != 1 {
		t.Fatalf("after the first server stopped, the database opens again: %+v", inst)
	}
}
