package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http/httptrace"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/hosting"
	"github.com/wimp-project/wimp/protocol"
	"github.com/wimp-project/wimp/soap"
	"github.com/wimp-project/wimp/workflow"
)

// definition is the identity every harness instance is created with (Create without a version
// would pick the newest registered one).
var definition = workflow.Identity{Name: "ExpenseApproval", Package: "wimp.samples", Version: "1.0.0.0"}

// exec sends a and returns what the client learnt. transport is the error when no reply came
// (the outcome is then unknown, or the request was never sent: see notSent).
func (c *clients) exec(ctx context.Context, a action) (o outcome, transport error) {
	// The connection's local address is the principal the server records (anonymous@ADDR):
	// it ties an operation without a reason to its tracking record (recorder.pin).
	var conn string
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		conn = info.Conn.LocalAddr().String()
	}})
	defer func() { o.Conn = conn }()
	var err error
	switch a.Op {
	case "Get":
		var inst *hosting.Instance
		inst, err = c.hosting.GetInstance(ctx, a.ID)
		if err == nil {
			o.View = viewOf(inst)
		}
	case "Create":
		_, err = c.hosting.Create(ctx, host.CreateRequest{ID: a.ID, Definition: definition.Name, Version: definition.Version,
			Inputs: createInputs(a.Amount, "")})
	case "ResumeBookmark":
		err = c.hosting.ResumeBookmark(ctx, a.ID, "Review", payload(a))
	default:
		op, ok := protocol.OpByName(a.Op)
		if !ok {
			panic("no MS-WFIM operation " + a.Op)
		}
		cmd := protocol.Command{Op: op, InstanceID: a.ID}
		switch op.Param {
		case protocol.ReasonParam:
			r := a.Reason
			cmd.Reason = &r
		case protocol.IdentityParam:
			id := definition
			cmd.Identity = &id
		}
		_, err = c.control.Call(ctx, op.Action(), protocol.Encode(cmd))
	}
	if err == nil {
		return o, nil
	}
	var f *soap.Fault
	if !errors.As(err, &f) {
		return outcome{Unknown: true, Detail: err.Error()}, err
	}
	o.Detail = f.Reason
	switch {
	case f.Code == soap.Receiver && strings.HasPrefix(f.Reason, "The workflow store lost its connection while committing the request; it may or may not have been applied."):
		// The server itself does not know (its database connection broke during COMMIT).
		return outcome{Unknown: true, Detail: f.Reason}, nil
	case f.Code == soap.Receiver && len(f.Subcodes) == 0:
		o.Fault = "Receiver"
	case len(f.Subcodes) > 0:
		o.Fault = f.Subcodes[len(f.Subcodes)-1].Local
	default:
		o.Fault = f.Code.String()
	}
	return o, nil
}

func createInputs(amount int, reviewTimeout string) map[string]any {
	in := map[string]any{"amount": amount, "submitter": "harness"}
	if reviewTimeout != "" {
		in["reviewTimeout"] = reviewTimeout
	}
	return in
}

// payload is the Review payload of a ResumeBookmark action; its nonce makes the resumption's
// tracking record (Bookmark "Review", Data = the payload) recognisable.
func payload(a action) string {
	switch a.Review {
	case "approve":
		return fmt.Sprintf(`{"approved":true,"reviewer":%q}`, a.Nonce)
	case "deny":
		return fmt.Sprintf(`{"approved":false,"reviewer":%q}`, a.Nonce)
	}
	return fmt.Sprintf(`{"note":%q}`, a.Nonce)
}

func viewOf(inst *hosting.Instance) view {
	v := view{State: string(inst.State), Completion: inst.Completion, SuspensionReason: inst.SuspensionReason,
		Waiting: slices.Contains(inst.Bookmarks, "Review")}
	if inst.Completion == "Terminated" {
		v.CompletionReason = inst.CompletionReason
	}
	v.Status, _ = inst.Variables["status"].(string)
	f, _ := inst.Variables["approvals"].(float64)
	v.Approvals = int(f)
	return v
}

// weighted is an operation mix.
type weighted []struct {
	op string
	w  int
}

func (m weighted) pick(rng *rand.Rand) string {
	total := 0
	for _, x := range m {
		total += x.w
	}
	n := rng.IntN(total)
	for _, x := range m {
		if n < x.w {
			return x.op
		}
		n -= x.w
	}
	panic("unreachable")
}

// hasReason reports whether op carries a reason (the harness makes each one unique).
func hasReason(op string) bool {
	switch strings.TrimPrefix(op, "Transacted") {
	case "Suspend", "Terminate", "Abandon":
		return true
	}
	return false
}

// newAction builds a request for op on id, with a reason or nonce unique to tag.
func newAction(rng *rand.Rand, op string, id uuid.UUID, tag string) action {
	a := action{Op: op, ID: id}
	switch {
	case hasReason(op):
		a.Reason = strings.ToLower(strings.TrimPrefix(op, "Transacted")) + "-" + tag
	case op == "ResumeBookmark":
		a.Nonce = "rb-" + tag
		switch n := rng.IntN(100); {
		case n < 8:
			a.Review = "approve"
		case n < 10:
			a.Review = "deny"
		default:
			a.Review = "malformed"
		}
	}
	return a
}

// ledger remembers every changing request per instance, to check the tracking records: each
// acknowledged management operation wrote exactly one record naming it (Data
// {"operation":"<Op>"}, host/manage.go), each acknowledged ResumeBookmark one Bookmark record
// "Review" carrying its payload; a refused one wrote none; an unknown one at most one.
type ledger struct {
	mu  sync.Mutex
	per map[uuid.UUID][]ledgerEntry
}

type ledgerEntry struct {
	a action
	o outcome
}

func newLedger() *ledger { return &ledger{per: map[uuid.UUID][]ledgerEntry{}} }

func (l *ledger) note(a action, o outcome) {
	if a.Op == "Get" || a.Op == "Create" {
		return
	}
	l.mu.Lock()
	l.per[a.ID] = append(l.per[a.ID], ledgerEntry{a, o})
	l.mu.Unlock()
}

// effectNames are the record names each management operation may write (host/manage.go: the
// effect's record, or the operation's own name when nothing changes or the instance runs).
func effectNames(op string) []string {
	switch strings.TrimPrefix(op, "Transacted") {
	case "Suspend":
		return []string{"Suspended"}
	case "Unsuspend":
		return []string{"Unsuspended", op}
	case "Cancel":
		return []string{"CancelRequested"}
	case "Terminate":
		return []string{"Terminated"}
	case "Abandon":
		return []string{"Aborted"}
	}
	return []string{op} // Run, Update (to the current identity)
}

// operationOf is the operation a record's Data names ("" when none).
func operationOf(r hosting.Record) string {
	if r.Kind != string(workflow.InstanceRecord) || !strings.HasPrefix(r.Data, "{") {
		return ""
	}
	var d struct {
		Operation string `json:"operation"`
	}
	if json.Unmarshal([]byte(r.Data), &d) != nil {
		return ""
	}
	return d.Operation
}

// verify checks id's tracking records against the ledger. It returns the number of
// acknowledged operations whose record it found, and one message per defect.
func (l *ledger) verify(id uuid.UUID, recs []hosting.Record) (verified int, defects []string) {
	l.mu.Lock()
	entries := slices.Clone(l.per[id])
	l.mu.Unlock()
	bad := func(format string, args ...any) {
		defects = append(defects, fmt.Sprintf("instance %s: ", id)+fmt.Sprintf(format, args...))
	}
	type tally struct{ acked, unknown, records int }
	byOp := map[string]*tally{}
	get := func(op string) *tally {
		if byOp[op] == nil {
			byOp[op] = &tally{}
		}
		return byOp[op]
	}
	var opRecs, reviews []hosting.Record
	for _, r := range recs {
		if op := operationOf(r); op != "" {
			opRecs = append(opRecs, r)
			get(op).records++
			if !slices.Contains(effectNames(op), r.Name) {
				bad("record %d names %q for operation %s; want one of %v", r.Seq, r.Name, op, effectNames(op))
			}
		}
		if r.Kind == string(workflow.BookmarkRecord) && r.Name == "Review" {
			reviews = append(reviews, r)
			get("ResumeBookmark").records++
		}
	}
	issuedReasons := map[string]bool{}
	for _, e := range entries {
		acked := e.o.Fault == "" && !e.o.Unknown
		unknown := e.o.Unknown || e.o.Fault == "InternalServiceFault"
		t := get(e.a.Op)
		if acked {
			t.acked++
		} else if unknown {
			t.unknown++
		}
		// Requests with a unique reason or nonce: their own record, exactly once if acknowledged.
		var n int
		var what string
		switch {
		case e.a.Reason != "":
			issuedReasons[e.a.Op+"\x00"+e.a.Reason] = true
			for _, r := range opRecs {
				if operationOf(r) == e.a.Op && r.Reason == e.a.Reason {
					n++
				}
			}
			what = fmt.Sprintf("%s with reason %q", e.a.Op, e.a.Reason)
		case e.a.Op == "ResumeBookmark":
			for _, r := range reviews {
				if strings.Contains(r.Data, `"`+e.a.Nonce+`"`) {
					n++
				}
			}
			what = fmt.Sprintf("ResumeBookmark Review %s (payload %s)", e.a.Nonce, payload(e.a))
		default:
			continue
		}
		switch {
		case acked && n == 1:
			verified++
		case acked:
			bad("%s was acknowledged, but %d tracking records show it (want exactly 1)", what, n)
		case unknown && n > 1:
			bad("%s (no reply) appears in %d tracking records (want at most 1)", what, n)
		case !acked && !unknown && n != 0:
			bad("%s was refused (%s: %s), but %d tracking records show it (want none: a refused change is never applied)", what, e.o.Fault, e.o.Detail, n)
		}
	}
	for _, r := range opRecs {
		if op := operationOf(r); r.Reason != "" && !issuedReasons[op+"\x00"+r.Reason] {
			bad("record %d (%s, reason %q, operation %s) matches no request the harness sent", r.Seq, r.Name, r.Reason, op)
		}
	}
	ops := make([]string, 0, len(byOp))
	for op := range byOp {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	for _, op := range ops {
		t := byOp[op]
		name := fmt.Sprintf("name %v, Data {\"operation\":%q}", effectNames(op), op)
		if op == "ResumeBookmark" {
			name = "Bookmark \"Review\""
		}
		switch {
		case t.records < t.acked:
			bad("%d %s operations were acknowledged but only %d tracking records (%s) exist: %d acknowledged operations lost their record",
				t.acked, op, t.records, name, t.acked-t.records)
		case t.records > t.acked+t.unknown:
			bad("%d tracking records (%s) exist for %d acknowledged and %d unanswered %s operations: %d records too many",
				t.records, name, t.acked, t.unknown, op, t.records-t.acked-t.unknown)
		}
		if op != "ResumeBookmark" && !hasReason(op) {
			verified += min(t.acked, t.records) // counted here: no reason to match them one by one
		}
	}
	return verified, defects
}

// describeRecords lists the records of operations, in commit (seq) order, for failure messages.
func describeRecords(recs []hosting.Record) string {
	var b strings.Builder
	for _, r := range recs {
		if operationOf(r) == "" && r.Kind != string(workflow.BookmarkRecord) &&
			!(r.Kind == string(workflow.InstanceRecord) && slices.Contains([]string{"Created", "Canceled", "Closed", "Terminated", "Faulted"}, r.Name)) {
			continue
		}
		fmt.Fprintf(&b, "  seq %-6d %s %-24s reason=%q data=%s\n", r.Seq, r.Time.Format("15:04:05.000000"), r.Kind+"/"+r.Name, r.Reason, r.Data)
	}
	return b.String()
}

// fetchRecords reads the tracking records of every instance in ids.
func fetchRecords(t *testing.T, c *clients, ids []uuid.UUID) map[uuid.UUID][]hosting.Record {
	t.Helper()
	out := map[uuid.UUID][]hosting.Record{}
	for _, id := range ids {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		recs, err := c.hosting.TrackingRecords(ctx, id, 0)
		cancel()
		// An instance that was never created (a refused Create) has no records: InstanceNotFound.
		var f *soap.Fault
		if errors.As(err, &f) && len(f.Subcodes) > 0 && f.Subcodes[len(f.Subcodes)-1].Local == "InstanceNotFound" {
			recs, err = nil, nil
		}
		if err != nil {
			t.Fatalf("GetTrackingRecords %s: %v", id, err)
		}
		out[id] = recs
	}
	return out
}

// checkRecords verifies the tracking records of every instance against the ledger and returns
// how many acknowledged operations it verified; defects fail the test.
func checkRecords(t *testing.T, l *ledger, all map[uuid.UUID][]hosting.Record, when string) int {
	t.Helper()
	ids := make([]uuid.UUID, 0, len(all))
	for id := range all {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i].String() < ids[j].String() })
	total, shown := 0, 0
	for _, id := range ids {
		n, defects := l.verify(id, all[id])
		total += n
		for _, d := range defects {
			if shown++; shown <= 20 {
				t.Errorf("%s: %s", when, d)
			}
		}
	}
	if shown > 20 {
		t.Errorf("%s: %d more tracking-record defects", when, shown-20)
	}
	return total
}
