package hosting

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

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
		if fl.State != "" && !fl.State.Valid() {
			t.Fatalf("state %q accepted", fl.State)
		}
		switch fl.Completion {
		case "", workflow.Closed, workflow.Canceled, workflow.Terminated, workflow.Faulted:
		default:
			t.Fatalf("completion %q accepted", fl.Completion)
		}
		for _, v := range []string{fl.Version, fl.VersionMin, fl.VersionMax} {
			if _, err := workflow.ParseVersion(v); v != "" && err != nil {
				t.Fatalf("version %q accepted", v)
			}
		}
		for _, tm := range []time.Time{fl.CreatedAfter, fl.CreatedBefore, fl.UpdatedAfter, fl.UpdatedBefore} {
			if !tm.IsZero() && tm.Location() != time.UTC {
				t.Fatalf("time %v is not UTC", tm)
			}
		}
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
		for _, s := range []string{fl.Definition, fl.Package, fl.Exception, fl.ReasonContains, fl.Bookmark} {
			if strings.ContainsAny(s, "\r") || !validXMLText(s) {
				return
			}
		}
		b := etree.NewElement(OpQueryInstances)
		b.CreateAttr("xmlns", NS)
		writeFilter(b, fl)
		doc := etree.NewDocument()
		doc.SetRoot(b)
		text, err := doc.WriteToString()
		if err != nil {
			t.Fatal(err)
		}
		again, _, err := decodeQuery(text)
		if err != nil {
			t.Fatalf("the client's filter %s is refused: %v", text, err)
		}
		if again.Filter != fl {
			t.Fatalf("filter %+v written as %s reads back as %+v", fl, text, again.Filter)
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
