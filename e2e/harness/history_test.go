package harness

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/google/uuid"

	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/hosting"
	"github.com/wimp-project/wimp/workflow"
)

// recorder collects the history of a test: every request with its call and return times
// (nanoseconds since the recorder started, on the monotonic clock).
type recorder struct {
	start time.Time

	mu      sync.Mutex
	ops     []porcupine.Operation
	open    []int // unknown outcomes whose return is the moment the server was gone
	dropped map[int]bool
}

func newRecorder() *recorder { return &recorder{start: time.Now(), dropped: map[int]bool{}} }

func (r *recorder) now() int64 { return int64(time.Since(r.start)) }

// add records a finished request; an unknown outcome stays open until settle.
func (r *recorder) add(client int, a action, o outcome, call, ret int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	o.Sent = call
	r.ops = append(r.ops, porcupine.Operation{ClientId: client, Input: a, Output: o, Call: call, Return: ret})
	if o.Unknown {
		r.open = append(r.open, len(r.ops)-1)
	}
}

// settle closes the open unknown outcomes at dead, the moment the server was known to be gone:
// a request made after it cannot have had an effect and is left out of the history.
func (r *recorder) settle(dead int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, i := range r.open {
		if r.ops[i].Call > dead {
			r.dropped[i] = true
			continue
		}
		r.ops[i].Return = dead
	}
	r.open = nil
}

// byInstance returns the history partitioned by instance (operations on different instances
// commute), each in call order.
func (r *recorder) byInstance() map[uuid.UUID][]porcupine.Operation {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[uuid.UUID][]porcupine.Operation{}
	for i, op := range r.ops {
		if r.dropped[i] {
			continue
		}
		if op.Return < op.Call {
			continue // still open (never settled): leave it out
		}
		id := op.Input.(action).ID
		out[id] = append(out[id], op)
	}
	for _, ops := range out {
		sort.SliceStable(ops, func(i, j int) bool { return ops[i].Call < ops[j].Call })
	}
	return out
}

// A record of an operation, found by matchRecords.
type commit struct {
	seq int64
	at  int64 // the record's time, on the recorder's clock
}

// matchRecords finds the tracking record of each operation of one instance's history (in
// call order) that wrote one. Operations with a unique reason or nonce are matched by it;
// others by operation name and connection (the record's principal is anonymous@ADDR, the
// client's address; a connection carries one request at a time): the first unmatched record
// in the operation's interval. Records are stored with millisecond precision, truncated.
func matchRecords(ops []porcupine.Operation, recs []hosting.Record, start time.Time) map[int]commit {
	byKey := map[string][]commit{} // operation|principal → records in seq order
	unique := map[string]commit{}  // operation|reason, or nonce → record
	for _, rec := range recs {
		c := commit{rec.Seq, int64(rec.Time.Sub(start))}
		if op := operationOf(rec); op != "" {
			byKey[op+"|"+rec.Principal] = append(byKey[op+"|"+rec.Principal], c)
			if rec.Reason != "" {
				unique[op+"|reason|"+rec.Reason] = c
			}
		}
		if rec.Kind == string(workflow.BookmarkRecord) && rec.Name == "Review" {
			var d struct{ Reviewer, Note string }
			if json.Unmarshal([]byte(rec.Data), &d) == nil {
				unique["nonce|"+d.Reviewer+d.Note] = c
			}
		}
	}
	for _, cs := range byKey {
		sort.Slice(cs, func(i, j int) bool { return cs[i].seq < cs[j].seq })
	}
	used := map[int64]bool{}
	out := map[int]commit{}
	for i, op := range ops {
		a, o := op.Input.(action), op.Output.(outcome)
		if a.Op == "Get" || a.Op == "Create" || (o.Fault != "" && o.Fault != "InternalServiceFault") {
			continue
		}
		var c commit
		var ok bool
		switch {
		case a.Reason != "":
			c, ok = unique[a.Op+"|reason|"+a.Reason]
		case a.Op == "ResumeBookmark":
			c, ok = unique["nonce|"+a.Nonce]
		case o.Conn != "":
			for _, x := range byKey[a.Op+"|"+host.Anonymous+"@"+o.Conn] {
				if !used[x.seq] && x.at >= o.Sent-int64(time.Millisecond) && x.at <= op.Return {
					c, ok = x, true
					break
				}
			}
		}
		if ok && !used[c.seq] {
			used[c.seq] = true
			out[i] = c
		}
	}
	return out
}

// narrow returns two narrowings of one instance's history, both only stricter than it (any
// linearization of a narrowing is one of the history):
//
//   - pinned: each operation whose record was found gets its Call moved to the record's time.
//     The server builds the record, under the instance lock, before committing the change with
//     it, and stores its time truncated to the millisecond: the change took effect after it.
//   - ordered: additionally, those operations are ranked by their records' seq, the server's
//     commit order, and the model applies them only in that order (a record means the change
//     was committed), so porcupine only has to find where the reads and refusals fit.
//
// anomalies are records dated after their operation's reply.
func narrow(ops []porcupine.Operation, m map[int]commit) (pinned, ordered []porcupine.Operation, anomalies []string) {
	pinned = append([]porcupine.Operation(nil), ops...)
	for i, c := range m {
		op := &pinned[i]
		if c.at > op.Return {
			anomalies = append(anomalies, fmt.Sprintf("%s was answered at %.3fms, but its tracking record %d is dated %.3fms, after the reply",
				op.Input.(action), float64(op.Return)/1e6, c.seq, float64(c.at)/1e6))
			delete(m, i)
			continue
		}
		if c.at > op.Call {
			op.Call = c.at
		}
	}
	idx := make([]int, 0, len(m))
	for i := range m {
		idx = append(idx, i)
	}
	sort.Slice(idx, func(x, y int) bool { return m[idx[x]].seq < m[idx[y]].seq })
	ordered = append([]porcupine.Operation(nil), pinned...)
	for rank, i := range idx {
		a := ordered[i].Input.(action)
		a.Rank = rank + 1
		ordered[i].Input = a
	}
	return pinned, ordered, anomalies
}

// foldRanked takes the refusals and reads out of a ranked history (narrow's ordered) and
// replaces each by the constraint it stands for, when that constraint is a plain narrowing.
//
// With every change ranked, the states are a known chain: S0 after the creation, S(k) after
// the k-th change in commit order; a refusal or read F (which changes nothing) fits where the
// chain is in a state that explains its outcome. When those places form one run S(a)..S(b),
// F fits exactly when the change leading into S(a) takes effect before F's reply and the one
// leaving S(b) after F was sent: F is dropped, and those two changes' intervals are narrowed
// to say so. This is exact (the folded history is linearizable if and only if the ranked one
// is), and it spares porcupine its weak spot: having placed a change too early, it backtracks
// through every subset of the dozens of concurrent refusals around it, as under contention
// when an instance completes while 60 clients address it. Refusals with several possible runs
// stay for porcupine. Nothing is folded when some change is not ranked (no reply and no
// record, say). violation describes an operation that fits nowhere.
func foldRanked(ops []porcupine.Operation) (out []porcupine.Operation, folded int, violation string) {
	if len(ops) == 0 {
		return ops, 0, ""
	}
	// The creation, acknowledged, is the first operation of its history (the others are sent
	// after it returned); a refused one (Receiver fault) left no instance.
	a0, o0 := ops[0].Input.(action), ops[0].Output.(outcome)
	created := a0.Op == "Create" && o0.Fault == "" && !o0.Unknown
	var chain []int // indices of the ranked changes, in rank order
	for i, op := range ops {
		a, o := op.Input.(action), op.Output.(outcome)
		switch {
		case a.Rank > 0:
			chain = append(chain, i)
		case i == 0 && created:
		case a.Op == "Get", o.Fault != "" && o.Fault != "InternalServiceFault" && !o.Unknown:
		default:
			return ops, 0, "" // a change that is not ranked
		}
	}
	sort.Slice(chain, func(x, y int) bool { return ops[chain[x]].Input.(action).Rank < ops[chain[y]].Input.(action).Rank })
	n := len(chain)
	states := make([]mstate, n+1)
	if created {
		states[0], _ = mstate{}.apply(a0)
	}
	for k, i := range chain {
		a, o := ops[i].Input.(action), ops[i].Output.(outcome)
		next, fault := states[k].apply(a)
		if !o.Unknown && o.Fault != fault {
			return ops, 0, "" // porcupine will report it
		}
		states[k+1] = next
	}
	// fits reports whether F's outcome is explained in state s.
	fits := func(op porcupine.Operation, s mstate) bool {
		a, o := op.Input.(action), op.Output.(outcome)
		if a.Op == "Get" {
			return o.Fault == "Receiver" || o.Unknown || // unanswered by the store: any state
				(o.Fault == "" && s.Exists && o.View == s.view()) || (o.Fault == "InstanceNotFound" && !s.Exists)
		}
		if o.Fault == "Receiver" {
			return true
		}
		_, fault := s.apply(a)
		return fault != "" && fault == o.Fault
	}
	calls, rets := make([]int64, n), make([]int64, n)
	for k, i := range chain {
		calls[k], rets[k] = ops[i].Call, ops[i].Return
	}
	done := map[int]bool{}
	for pass, changed := 0, true; changed && pass < 20; pass++ {
		changed = false
		// The chain's order bounds each change: after every earlier one, before every later one.
		for k := 1; k < n; k++ {
			calls[k] = max(calls[k], calls[k-1])
		}
		for k := n - 2; k >= 0; k-- {
			rets[k] = min(rets[k], rets[k+1])
		}
		for k := range n {
			if calls[k] > rets[k] {
				return ops, 0, fmt.Sprintf("the server's commit order cannot be fitted into real time at %s (record rank %d)", ops[chain[k]].Input.(action), k+1)
			}
		}
		for i, op := range ops {
			a := op.Input.(action)
			if done[i] || a.Rank > 0 || (i == 0 && created) {
				continue
			}
			// Places j (state S(j), between change j-1 and change j) that F can reach.
			var places []int
			for j := 0; j <= n; j++ {
				if fits(op, states[j]) && (j == 0 || calls[j-1] < op.Return) && (j == n || rets[j] > op.Call) {
					places = append(places, j)
				}
			}
			if len(places) == 0 {
				return ops, 0, fmt.Sprintf("%s → %s (sent %.3fms, answered %.3fms) fits nowhere in the server's commit order",
					a, op.Output.(outcome), float64(op.Call)/1e6, float64(op.Return)/1e6)
			}
			if places[len(places)-1]-places[0] != len(places)-1 {
				continue // several runs: porcupine decides
			}
			first, last := places[0], places[len(places)-1]
			if first > 0 {
				rets[first-1] = min(rets[first-1], op.Return-1)
			}
			if last < n {
				calls[last] = max(calls[last], op.Call+1)
			}
			done[i], changed = true, true
		}
	}
	out = make([]porcupine.Operation, 0, len(ops)-len(done))
	for i, op := range ops {
		if !done[i] {
			out = append(out, op)
		}
	}
	for k, i := range chain {
		for x := range out {
			if out[x].Input == ops[i].Input && out[x].Call == ops[i].Call {
				out[x].Call, out[x].Return = calls[k], rets[k]
			}
		}
	}
	return out, len(done), ""
}

// checkStats counts how histories were found linearizable.
type checkStats struct {
	histories   int // checked
	inOrder     int // linearizable with the writes in the server's commit order
	otherOrder  int // linearizable only in another order
	operations  int
	folded      int // refusals and reads folded into constraints (foldRanked)
	undecided   int // porcupine found no violation but timed out
	longest     time.Duration
	longestSize int
}

// checkLinearizable checks every instance's history against the model with porcupine. It
// first checks the narrowing with the writes in the server's commit order (quick, since only
// reads and refusals remain to be placed; linearizable there means linearizable); when that
// fails, the full history with only the pinned calls (porcupine's search, bounded in time).
// A history that is not linearizable fails the test with the history, the tracking records
// (the commit order) and porcupine's visualization.
func checkLinearizable(t *testing.T, r *recorder, when string, records map[uuid.UUID][]hosting.Record) checkStats {
	t.Helper()
	parts := r.byInstance()
	ids := make([]uuid.UUID, 0, len(parts))
	for id := range parts {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i].String() < ids[j].String() })
	var cs checkStats
	failures := 0
	for _, id := range ids {
		ops := parts[id]
		cs.histories++
		cs.operations += len(ops)
		t0 := time.Now()
		pinned, ranked, anomalies := narrow(ops, matchRecords(ops, records[id], r.start))
		for _, a := range anomalies {
			t.Errorf("%s: instance %s: %s", when, id, a)
		}
		folded, n, violation := foldRanked(ranked)
		cs.folded += n
		if violation != "" {
			t.Errorf("%s: instance %s: %s", when, id, violation)
		}
		ordered, info := porcupine.CheckOperationsVerbose(instanceModel, folded, 3*time.Second)
		full := porcupine.Unknown
		if ordered != porcupine.Ok {
			var fullInfo porcupine.LinearizationInfo
			full, fullInfo = porcupine.CheckOperationsVerbose(instanceModel, pinned, 15*time.Second)
			if full != porcupine.Unknown || ordered == porcupine.Unknown {
				info = fullInfo
			}
		}
		if d := time.Since(t0); d > cs.longest {
			cs.longest, cs.longestSize = d, len(ops)
		}
		base := filepath.Join(os.TempDir(), fmt.Sprintf("wimp-harness-%s-%s", strings.ReplaceAll(t.Name(), "/", "_"), id))
		switch {
		case ordered == porcupine.Ok:
			cs.inOrder++
			continue
		case full == porcupine.Ok:
			cs.otherOrder++
			t.Logf("%s: instance %s is linearizable, though not with its changes in the server's commit order (that check: %s)", when, id, ordered)
			continue
		case full == porcupine.Unknown && ordered == porcupine.Unknown:
			// porcupine: an Unknown result may be read as Ok (no violation found in time).
			cs.undecided++
			_ = dumpHistory(base+".json", pinned)
			t.Logf("%s: instance %s: porcupine found no violation but could not finish in time (%d operations; history %s.json)", when, id, len(ops), base)
			continue
		}
		failures++
		if failures > 3 {
			continue // the first ones tell the story
		}
		files := base + ".html"
		if err := porcupine.VisualizePath(instanceModel, info, files); err != nil {
			files = "(visualization failed: " + err.Error() + ")"
		}
		if err := dumpHistory(base+".json", pinned); err == nil {
			files += ", history " + base + ".json"
		}
		what := "is not linearizable against the state table"
		if full == porcupine.Unknown {
			what = "is not linearizable with its changes in the server's commit order (record seq), and the full search found no linearization in time"
		}
		t.Errorf("%s: the history of instance %s %s (%d operations; %s):\n%s\ntracking records of the operations, in commit order:\n%s",
			when, id, what, len(ops), files, describeHistory(pinned), describeRecords(records[id]))
	}
	if failures > 3 {
		t.Errorf("%s: %d more histories are not linearizable", when, failures-3)
	}
	return cs
}

// dumpedOp is one operation of a history file (dumpHistory, loadHistory).
type dumpedOp struct {
	Client       int
	Call, Return int64
	Action       action
	Outcome      outcome
}

// dumpHistory writes a history as JSON, so that a failed check can be replayed
// (TestReplayHistory).
func dumpHistory(path string, ops []porcupine.Operation) error {
	out := make([]dumpedOp, len(ops))
	for i, op := range ops {
		out[i] = dumpedOp{op.ClientId, op.Call, op.Return, op.Input.(action), op.Output.(outcome)}
	}
	b, err := json.MarshalIndent(out, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func loadHistory(path string) ([]porcupine.Operation, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var in []dumpedOp
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, err
	}
	ops := make([]porcupine.Operation, len(in))
	for i, d := range in {
		ops[i] = porcupine.Operation{ClientId: d.Client, Call: d.Call, Return: d.Return, Input: d.Action, Output: d.Outcome}
	}
	return ops, nil
}

func describeHistory(ops []porcupine.Operation) string {
	var b strings.Builder
	for _, op := range ops {
		a, o := op.Input.(action), op.Output.(outcome)
		res := o.String()
		if a.Op == "Get" && o.Fault == "" && !o.Unknown {
			res = o.View.String()
		}
		if o.Detail != "" && o.Fault != "" {
			res += " (" + o.Detail + ")"
		}
		pinned := ""
		if op.Call != o.Sent {
			pinned = fmt.Sprintf(" (sent %.3fms)", float64(o.Sent)/1e6)
		}
		fmt.Fprintf(&b, "  [%9.3fms .. %9.3fms] client %-3d %s → %s%s\n",
			float64(op.Call)/1e6, float64(op.Return)/1e6, op.ClientId, a, res, pinned)
	}
	return b.String()
}
