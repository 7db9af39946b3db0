package ui

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// FuzzRequest feeds the dashboard API's request parsing arbitrary input: the search's query
// string (pages and bulk jobs) and the JSON bodies of the actions, resumptions and bulk jobs.
// Nothing may panic; every refusal is a 4xx in words; what is accepted is what the rules
// allow, and an accepted search written back out reads the same again.
func FuzzRequest(f *testing.F) {
	for _, s := range []struct{ query, op, body string }{
		{"state=Active", "Suspend", `{"reason":"audit"}`},
		{"state=suspended&definition=ExpenseApproval&versionMin=1.0&versionMax=2.0", "Run", `{}`},
		{"createdAfter=2026-12-01T09:30:00Z&updatedBefore=2026-12-02T00:00:00.5%2B01:00&pageSize=10&pageToken=abc", "Terminate", `{"reason":null}`},
		{"property.customer=acme&property.region=eu&correlationKey=PO-1&currentState=Review", "Abandon", `{"reason":"x","reason":"y"}`},
		{"reasonContains=%E2%9C%93&bookmark=Review&exception=Boom&completion=faulted", "Cancel", `{"bookmark":"Review","payload":{"a":[1,2,{"b":null}]}}`},
		{"state=&x=1&state=Active", "Unsuspend", `{"operation":"Suspend","reason":"r","search":"state=Active","dryRun":true,"maxInstances":5}`},
		{"%zz", "Suspend", `{"reason":"a"} trailing`},
		{"property.=x", "Run", "\xff"},
	} {
		f.Add(s.query, s.op, s.body)
	}
	f.Fuzz(func(t *testing.T, query, op, body string) {
		for _, paging := range []bool{true, false} {
			req, err := parseSearch(query, paging)
			if err != nil {
				refusal(t, err)
				continue
			}
			if !paging && (req.PageSize != 0 || req.PageToken != "") {
				t.Fatalf("a bulk search took a page: %+v", req)
			}
			again := encodeSearch(req)
			req2, err := parseSearch(again, paging)
			if err != nil {
				t.Fatalf("%q was accepted, but its encoding %q is refused: %v", query, again, err)
			}
			if enc := encodeSearch(req2); enc != again {
				t.Fatalf("%q: encoded %q, read back as %q", query, again, enc)
			}
			if req.Filter.State != "" && !slices.Contains(states, req.Filter.State) {
				t.Fatalf("accepted state %q", req.Filter.State)
			}
		}

		if reason, err := parseAction(op, []byte(body)); err != nil {
			refusal(t, err)
		} else if op == "Suspend" && strings.TrimSpace(reason) == "" {
			t.Fatalf("Suspend accepted without a reason: %q", body)
		} else if !takesReason(op) && reason != "" {
			t.Fatalf("%s accepted a reason: %q", op, body)
		}

		if bookmark, _, err := parseResume([]byte(body)); err != nil {
			refusal(t, err)
		} else if bookmark == "" {
			t.Fatalf("a resumption without a bookmark was accepted: %q", body)
		}

		if req, err := parseBulk([]byte(body)); err != nil {
			refusal(t, err)
		} else if !slices.Contains(actionOps, req.Operation) || req.RatePerSecond < 0 || req.MaxInstances < 0 {
			t.Fatalf("bulk request accepted: %+v", req)
		}
	})
}

// refusal fails unless err is a client error in words.
func refusal(t *testing.T, err error) {
	t.Helper()
	var ae *apiError
	if !errors.As(err, &ae) || ae.Status < 400 || ae.Status > 499 || ae.Message == "" {
		t.Fatalf("not a 4xx refusal in words: %#v", err)
	}
}
