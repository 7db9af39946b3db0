package hosting

import (
	"testing"

	"github.com/wimp-project/wimp/host"
)

// TestOperationRoles: the role the endpoint checks before it reads a request's body is README's
// (Security, the role table) for every operation of the contract.
func TestOperationRoles(t *testing.T) {
	want := map[string]host.Role{
		"Create": host.Operator, "CreateWithInstanceId": host.Operator, "CreateWithCorrelationKey": host.Operator, "ResumeBookmark": host.Operator,
		"GetInstance": host.Reader, "ListInstances": host.Reader, "GetTrackingRecords": host.Reader,
		"QueryInstances": host.Reader, "CountInstances": host.Reader, "GetDefinitions": host.Reader,
		"StartBulkOperation": host.Admin, "GetBulkOperation": host.Reader, "CancelBulkOperation": host.Admin,
		"Purge": host.Admin, "GetNodes": host.Reader,
	}
	if len(opNames) != len(want) || len(operations) != len(want) {
		t.Fatalf("%d operation names, %d operations; want %d", len(opNames), len(operations), len(want))
	}
	for _, name := range opNames {
		op, ok := operations[name]
		if !ok || op.handle == nil {
			t.Errorf("operation %s has no handler", name)
			continue
		}
		if op.requires != want[name] {
			t.Errorf("%s requires %v, want %v", name, op.requires, want[name])
		}
	}
}
