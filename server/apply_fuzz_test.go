package server

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// A host.Request another node sends is one JSON object naming an operation and an instance,
// with no member the request does not have; whatever the body, decodeApply answers without
// panicking, and what it accepts encodes back to a request it accepts alike.
func FuzzDecodeApply(f *testing.F) {
	f.Add(`{"operation":"Suspend","instance":"7a3e2a52-4e55-4b1a-9d51-4f3c4ad0c001","reason":"audit"}`)
	f.Add(`{"operation":"ResumeBookmark","instance":"7a3e2a52-4e55-4b1a-9d51-4f3c4ad0c001","bookmark":"Review","payload":{"approved":true}}`)
	f.Add(`{"operation":"Update","instance":"7a3e2a52-4e55-4b1a-9d51-4f3c4ad0c001","identity":{"Name":"ExpenseApproval","Version":"2.0.0.0"},"dryRun":true,"job":"00000000-0000-0000-0000-000000000001"}`)
	f.Add(`{"operation":"Run","instance":"7a3e2a52-4e55-4b1a-9d51-4f3c4ad0c001"} {}`)
	f.Add(`{"operation":"Run","instance":"nope"}`)
	f.Add(`{"operation":"Run","instance":"7a3e2a52-4e55-4b1a-9d51-4f3c4ad0c001","extra":1}`)
	f.Fuzz(func(t *testing.T, body string) {
		req, err := decodeApply(strings.NewReader(body))
		if err != nil {
			return
		}
		if req.Operation == "" || req.Instance == uuid.Nil {
			t.Fatalf("accepted %q without an operation or instance: %+v", body, req)
		}
		b, err := json.Marshal(req)
		if err != nil {
			t.Fatalf("an accepted request does not encode: %v", err)
		}
		again, err := decodeApply(strings.NewReader(string(b)))
		if err != nil || again.Operation != req.Operation || again.Instance != req.Instance || again.Reason != req.Reason {
			t.Fatalf("%s decoded again as %+v, %v; want %+v", b, again, err, req)
		}
	})
}

func TestDecodeApply(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{`{"operation":"Run","instance":"7a3e2a52-4e55-4b1a-9d51-4f3c4ad0c001"} {}`, "more than one JSON value"},
		{`{"operation":"Run","instance":"7a3e2a52-4e55-4b1a-9d51-4f3c4ad0c001","extra":1}`, `unknown field "extra"`},
		{`{"operation":"Run"}`, "an operation and an instance id are required"},
		{`{"instance":"7a3e2a52-4e55-4b1a-9d51-4f3c4ad0c001"}`, "an operation and an instance id are required"},
		{`[]`, "not one operation's JSON"},
	} {
		if _, err := decodeApply(strings.NewReader(c.body)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to say %q", c.body, err, c.want)
		}
	}
	req, err := decodeApply(strings.NewReader(`{"operation":"Suspend","instance":"7a3e2a52-4e55-4b1a-9d51-4f3c4ad0c001","reason":"audit","job":"00000000-0000-0000-0000-000000000001"}`))
	if err != nil || req.Operation != "Suspend" || req.Instance.String() != "7a3e2a52-4e55-4b1a-9d51-4f3c4ad0c001" || req.Reason != "audit" ||
		req.Job.String() != "00000000-0000-0000-0000-000000000001" {
		t.Errorf("decodeApply = %+v, %v", req, err)
	}
}
