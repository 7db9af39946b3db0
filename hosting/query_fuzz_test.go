package hosting

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/google/uuid"

	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/soap"
	"github.com/wimp-project/wimp/workflow"
)

// decodeQuery reads a QueryInstances or CountInstances body as the endpoint does.
func decodeQuery(body string) (host.QueryRequest, host.GroupBy, error) {
	doc := etree.NewDocument()
	if err := doc.ReadFromString(body); err != nil || doc.Root() == nil {
		return host.QueryRequest{}, "", errors.New("not XML")
	}
	root := doc.Root()
	a, err := readArgs(root.Tag, root)
	if err != nil {
		return host.QueryRequest{}, "", err
	}
	if root.Tag == OpCountInstances {
		f, by, err := readCount(a)
		return host.QueryRequest{Filter: f}, by, err
	}
	req, err := readQuery(a)
	return req, "", err
}

// FuzzQueryArguments decodes arbitrary QueryInstances and CountInstances bodies: each is
// refused with an InvalidArgument fault, or decodes to a filter the host accepts (a known state
// and completion, versions that parse, UTC times) which the client writes back to the same
// filter.
func FuzzQueryArguments(f *testing.F) {
	for _, s := range []string{
		`<QueryInstances xmlns="` + NS + `"><filter><state>Active</state><completion>Closed</completion><definition>ExpenseApproval</definition>` +
			`<package>wimp.samples</package><version>1.0.0.0</version><versionMin>1.0</versionMin><versionMax>2.0</versionMax>` +
			`<exception>System.Exception</exception><reasonContains> audit </reasonContains><bookmark>Review</bookmark>` +
			`<createdAfter>2026-11-30T08:00:00.5+01:00</createdAfter><createdBefore>2026-12-01T00:00:00</createdBefore>` +
			`<updatedAfter> 2026-11-30T08:00:00Z </updatedAfter><updatedBefore/></filter><pageSize>7</pageSize>` +
			`<pageToken>AQAAAbjglJsuPyUE4E-JQdOaDAMF6CwzAQ</pageToken><includeVariables>1</includeVariables></QueryInstances>`,
		`<QueryInstances xmlns="` + NS + `"><filter><state>active</state></filter></QueryInstances>`,
		`<QueryInstances xmlns="` + NS + `"><filter><correlationKey>lead/1</correlationKey><currentState>NewLead</currentState>` +
			`<properties>{"amount": "500", "who": "bob"}</properties></filter></QueryInstances>`,
		`<QueryInstances xmlns="` + NS + `"><filter><properties>{"amount": 500}</properties></filter></QueryInstances>`,
		`<QueryInstances xmlns="` + NS + `"><filter><properties>{}</properties></filter></QueryInstances>`,
		`<QueryInstances xmlns="` + NS + `"><filter><version>1</version></filter></QueryInstances>`,
		`<QueryInstances xmlns="` + NS + `"><filter><state>Active</state><state>Active</state></filter></QueryInstances>`,
		`<QueryInstances xmlns="` + NS + `"><pageSize>-1</pageSize></QueryInstances>`,
		`<QueryInstances xmlns="` + NS + `"><pageSize>99999999999</pageSize></QueryInstances>`,
		`<QueryInstances xmlns="` + NS + `"><includeVariables>yes</includeVariables></QueryInstances>`,
		`<QueryInstances xmlns="` + NS + `"><filter><createdAfter>yesterday</createdAfter></filter></QueryInstances>`,
		`<QueryInstances xmlns="` + NS + `"><filter><bookmark><b/></bookmark></filter></QueryInstances>`,
		`<QueryInstances xmlns="` + NS + `"><filter xmlns:i="http://www.w3.org/2001/XMLSchema-instance" i:nil="true"/></QueryInstances>`,
		`<CountInstances xmlns="` + NS + `"><filter><exception>X</exception></filter><groupBy>definition</groupBy></CountInstances>`,
		`<CountInstances xmlns="` + NS + `"><groupBy>colour</groupBy></CountInstances>`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		req, by, err := decodeQuery(body)
		if err != nil {
			if err.Error() == "not XML" {
				return
			}
			var fault *soap.Fault
			if !errors.As(err, &fault) || len(fault.Subcodes) != 1 || fault.Subcodes[0] != (soap.QName{Space: NS, Local: FaultInvalidArgument}) {
				t.Fatalf("refused with %v, want an InvalidArgument fault", err)
			}
			return
		}
		fl := req.Filter
		checkFilter(t, fl)
		if req.PageSize < 0 {
			t.Fatalf("page size %d accepted", req.PageSize)
		}
		switch by {
		case host.GroupNone, host.GroupByState, host.GroupByDefinition, host.GroupByException:
		default:
			t.Fatalf("groupBy %q accepted", by)
		}
		// The client writes the decoded filter back; it decodes to the same filter. (Text values
		// are written as they were read, so only those XML cannot carry are skipped.)
		texts := []string{fl.Definition, fl.Package, fl.Exception, fl.ReasonContains, fl.Bookmark, fl.CorrelationKey, fl.CurrentState}
		for k, v := range fl.Properties {
			texts = append(texts, k, v)
		}
		if !xmlSafe(texts...) {
			return
		}
		text := written(t, OpQueryInstances, func(b *etree.Element) { writeFilter(b, fl) })
		again, _, err := decodeQuery(text)
		if err != nil {
			t.Fatalf("the client's filter %s is refused: %v", text, err)
		}
		if !reflect.DeepEqual(again.Filter, fl) {
			t.Fatalf("filter %+v written as %s reads back as %+v", fl, text, again.Filter)
		}
	})
}

// checkFilter fails unless f is a filter the host accepts: a known state and completion,
// versions that parse, UTC times.
func checkFilter(t *testing.T, f host.Filter) {
	t.Helper()
	if f.State != "" && !f.State.Valid() {
		t.Fatalf("state %q accepted", f.State)
	}
	switch f.Completion {
	case "", workflow.Closed, workflow.Canceled, workflow.Terminated, workflow.Faulted:
	default:
		t.Fatalf("completion %q accepted", f.Completion)
	}
	for _, v := range []string{f.Version, f.VersionMin, f.VersionMax} {
		if _, err := workflow.ParseVersion(v); v != "" && err != nil {
			t.Fatalf("version %q accepted", v)
		}
	}
	for _, tm := range []time.Time{f.CreatedAfter, f.CreatedBefore, f.UpdatedAfter, f.UpdatedBefore} {
		if !tm.IsZero() && tm.Location() != time.UTC {
			t.Fatalf("time %v is not UTC", tm)
		}
	}
}

// xmlSafe reports whether XML text can carry every s unchanged (no CR, which parsing turns
// into LF, and only characters XML allows).
func xmlSafe(ss ...string) bool {
	for _, s := range ss {
		if strings.ContainsAny(s, "\r") || !validXMLText(s) {
			return false
		}
	}
	return true
}

// written is the request element op that build fills, as text.
func written(t *testing.T, op string, build func(*etree.Element)) string {
	t.Helper()
	b := etree.NewElement(op)
	b.CreateAttr("xmlns", NS)
	build(b)
	doc := etree.NewDocument()
	doc.SetRoot(b)
	text, err := doc.WriteToString()
	if err != nil {
		t.Fatal(err)
	}
	return text
}

// decodeBulk reads a StartBulkOperation, GetBulkOperation, CancelBulkOperation or Purge body as
// the endpoint does; the decoded arguments in a bulkArgs.
type bulkArgs struct {
	op     string
	req    host.BulkRequest // StartBulkOperation
	job    uuid.UUID        // Get and CancelBulkOperation
	after  int64
	limit  int
	filter host.Filter // Purge
	dryRun bool
}

func decodeBulk(body string) (bulkArgs, error) {
	doc := etree.NewDocument()
	if err := doc.ReadFromString(body); err != nil || doc.Root() == nil {
		return bulkArgs{}, errors.New("not XML")
	}
	root := doc.Root()
	a, err := readArgs(root.Tag, root)
	if err != nil {
		return bulkArgs{}, err
	}
	out := bulkArgs{op: root.Tag}
	switch root.Tag {
	case OpStartBulkOperation:
		out.req, err = readBulkRequest(a)
	case OpGetBulkOperation:
		out.job, out.after, out.limit, err = readGetBulk(a)
	case OpCancelBulkOperation:
		out.job, err = a.jobID()
	case OpPurge:
		out.filter, out.dryRun, err = readPurge(a)
	default:
		return bulkArgs{}, errors.New("not XML") // not one of these operations: nothing to check
	}
	return out, err
}

// FuzzBulkArguments decodes arbitrary StartBulkOperation, GetBulkOperation,
// CancelBulkOperation and Purge bodies: each is refused with an InvalidArgument fault, or
// decodes to arguments the host accepts (an operation named, a valid filter, a finite rate
// and a limit of 0 or more, item bounds of 0 or more and at most MaxItemsLimit items), which
// the client writes back to the same arguments.
func FuzzBulkArguments(f *testing.F) {
	const id = "6f1d2c3b-4a59-4e6f-8a7b-9c0d1e2f3a4b"
	for _, s := range []string{
		`<StartBulkOperation xmlns="` + NS + `"><operation> Update </operation><filter><state>Suspended</state>` +
			`<createdAfter>2026-11-30T08:00:00.5+01:00</createdAfter></filter><reason> why </reason>` +
			`<identity><name>ExpenseApproval</name><package>wimp.samples</package><version>2.0.0.0</version></identity>` +
			`<dryRun>1</dryRun><ratePerSecond>2.5e1</ratePerSecond><maxInstances>10</maxInstances></StartBulkOperation>`,
		`<StartBulkOperation xmlns="` + NS + `"><operation>Suspend</operation><ratePerSecond>.5</ratePerSecond></StartBulkOperation>`,
		`<StartBulkOperation xmlns="` + NS + `"><operation>Suspend</operation><ratePerSecond>-0</ratePerSecond></StartBulkOperation>`,
		`<StartBulkOperation xmlns="` + NS + `"><operation>Suspend</operation><ratePerSecond>1e400</ratePerSecond></StartBulkOperation>`,
		`<StartBulkOperation xmlns="` + NS + `"><operation>Suspend</operation><ratePerSecond>INF</ratePerSecond></StartBulkOperation>`,
		`<StartBulkOperation xmlns="` + NS + `"><operation>Suspend</operation><ratePerSecond>0x10</ratePerSecond></StartBulkOperation>`,
		`<StartBulkOperation xmlns="` + NS + `"><operation>Suspend</operation><maxInstances>-1</maxInstances></StartBulkOperation>`,
		`<StartBulkOperation xmlns="` + NS + `"><operation/><dryRun>true</dryRun></StartBulkOperation>`,
		`<StartBulkOperation xmlns="` + NS + `"><operation>Update</operation><identity><name><x/></name></identity></StartBulkOperation>`,
		`<StartBulkOperation xmlns="` + NS + `"><operation>Update</operation><identity xmlns:i="http://www.w3.org/2001/XMLSchema-instance" i:nil="true"/></StartBulkOperation>`,
		`<GetBulkOperation xmlns="` + NS + `"><jobId>{` + id + `}</jobId><itemsAfter>3</itemsAfter><itemsLimit>99999</itemsLimit></GetBulkOperation>`,
		`<GetBulkOperation xmlns="` + NS + `"><jobId>` + id + `</jobId><itemsLimit>-1</itemsLimit></GetBulkOperation>`,
		`<GetBulkOperation xmlns="` + NS + `"><jobId>` + id + `</jobId><itemsLimit>99999999999</itemsLimit></GetBulkOperation>`,
		`<CancelBulkOperation xmlns="` + NS + `"><jobId>(` + id + `)</jobId></CancelBulkOperation>`,
		`<CancelBulkOperation xmlns="` + NS + `"><jobId>nope</jobId></CancelBulkOperation>`,
		`<Purge xmlns="` + NS + `"><filter><completion>Faulted</completion><updatedBefore>2026-11-01T00:00:00</updatedBefore></filter><dryRun>0</dryRun></Purge>`,
		`<Purge xmlns="` + NS + `"><filter><state>Active</state></filter></Purge>`,
		`<Purge xmlns="` + NS + `"><dryRun>maybe</dryRun></Purge>`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		got, err := decodeBulk(body)
		if err != nil {
			if err.Error() == "not XML" {
				return
			}
			var fault *soap.Fault
			if !errors.As(err, &fault) || len(fault.Subcodes) != 1 || fault.Subcodes[0] != (soap.QName{Space: NS, Local: FaultInvalidArgument}) {
				t.Fatalf("refused with %v, want an InvalidArgument fault", err)
			}
			return
		}
		var text string
		switch got.op {
		case OpStartBulkOperation:
			r := got.req
			if r.Operation == "" || r.Operation != strings.TrimSpace(r.Operation) {
				t.Fatalf("operation %q accepted", r.Operation)
			}
			checkFilter(t, r.Filter)
			if r.RatePerSecond < 0 || math.IsInf(r.RatePerSecond, 0) || math.IsNaN(r.RatePerSecond) || r.MaxInstances < 0 {
				t.Fatalf("rate %v, max %d accepted", r.RatePerSecond, r.MaxInstances)
			}
			fl := r.Filter
			ss := []string{r.Operation, r.Reason, fl.Definition, fl.Package, fl.Exception, fl.ReasonContains, fl.Bookmark}
			if r.Identity != nil {
				ss = append(ss, r.Identity.Name, r.Identity.Package, r.Identity.Version)
			}
			if !xmlSafe(ss...) {
				return
			}
			text = written(t, got.op, func(b *etree.Element) { writeBulkRequest(b, r) })
		case OpGetBulkOperation:
			if got.after < 0 || got.limit < 0 || got.limit > MaxItemsLimit {
				t.Fatalf("itemsAfter %d, itemsLimit %d accepted", got.after, got.limit)
			}
			return
		case OpCancelBulkOperation:
			return
		case OpPurge:
			checkFilter(t, got.filter)
			fl := got.filter
			if !xmlSafe(fl.Definition, fl.Package, fl.Exception, fl.ReasonContains, fl.Bookmark) {
				return
			}
			text = written(t, got.op, func(b *etree.Element) { writePurge(b, fl, got.dryRun) })
		}
		again, err := decodeBulk(text)
		if err != nil {
			t.Fatalf("the client's %s is refused: %v", text, err)
		}
		if !reflect.DeepEqual(again, got) {
			t.Fatalf("%+v written as %s reads back as %+v", got, text, again)
		}
	})
}

func validXMLText(s string) bool {
	for _, r := range s {
		if r == 0xFFFD || r < 0x20 && r != '\t' && r != '\n' {
			return false
		}
	}
	return true
}
