// Package hosting is wimp's own SOAP contract for creating instances, resuming their bookmarks
// and reading them back (the counterpart of WF4's IWorkflowCreation/hosting endpoints, which
// MS-WFIM leaves out). Server operations live in server.go, a Go client in client.go and the
// published WSDL in hosting.wsdl.
package hosting

import (
	"time"

	"github.com/wimp-project/wimp/workflow"
)

// NS is the contract namespace: body elements and fault subcodes of this contract.
const NS = "urn:wimp:workflow-hosting:2026-11"

const actionPrefix = NS + "/IWorkflowHosting/"

// Operation names.
const (
	OpCreate               = "Create"
	OpCreateWithInstanceID = "CreateWithInstanceId"
	OpResumeBookmark       = "ResumeBookmark"
	OpGetInstance          = "GetInstance"
	OpListInstances        = "ListInstances"
	OpGetTrackingRecords   = "GetTrackingRecords"
)

var opNames = []string{OpCreate, OpCreateWithInstanceID, OpResumeBookmark, OpGetInstance, OpListInstances, OpGetTrackingRecords}

// Action is the request action of an operation.
func Action(op string) string { return actionPrefix + op }

// ReplyAction is the reply action of an operation.
func ReplyAction(op string) string { return actionPrefix + op + "Response" }

// Fault subcodes of this contract (in NS). Instance conditions shared with MS-WFIM
// (InstanceNotFound, InstanceSuspended, InstanceCompleted, InstanceTerminated) use the
// WorkflowServices namespace, so one client-side check serves both endpoints.
const (
	FaultDefinitionNotFound = "DefinitionNotFound"
	FaultInvalidInput       = "InvalidInput"
	FaultInstanceExists     = "InstanceExists"
	FaultBookmarkNotFound   = "BookmarkNotFound"
	FaultInvalidArgument    = "InvalidArgument"
)

// Instance is what GetInstance returns; its JSON form is `wimpctl get --json` (README, "Try it end to end").
type Instance struct {
	ID                  string            `json:"id"`
	State               workflow.State    `json:"state"`
	Completion          string            `json:"completion"`
	CompletionReason    string            `json:"completionReason,omitempty"`
	SuspensionReason    string            `json:"suspensionReason"`
	SuspensionException string            `json:"suspensionException,omitempty"`
	Bookmarks           []string          `json:"bookmarks"`
	Definition          workflow.Identity `json:"definition"`
	Variables           map[string]any    `json:"variables"`
	PendingTimer        *time.Time        `json:"pendingTimer,omitempty"`
	ExecutionStatus     string            `json:"executionStatus"`
	Created             time.Time         `json:"created"`
	Updated             time.Time         `json:"updated"`
}

// Record is a tracking record in JSON.
type Record struct {
	Seq       int64     `json:"seq"`
	Time      time.Time `json:"time"`
	Kind      string    `json:"kind"`
	Name      string    `json:"name"`
	Activity  string    `json:"activity,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	Principal string    `json:"principal,omitempty"`
	Data      string    `json:"data,omitempty"`
}
