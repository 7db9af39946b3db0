// Package hosting is wimp's own SOAP contract for creating instances, resuming their bookmarks
// and reading them back (the counterpart of WF4's IWorkflowCreation/hosting endpoints, which
// MS-WFIM leaves out), querying and counting them by filter, and listing the registered
// definitions. Server operations live in server.go (the operations table) and query.go, a Go
// client in client.go and the published WSDL in wsdl.go.
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
	OpQueryInstances       = "QueryInstances"
	OpCountInstances       = "CountInstances"
	OpGetDefinitions       = "GetDefinitions"
)

var opNames = []string{OpCreate, OpCreateWithInstanceID, OpResumeBookmark, OpGetInstance, OpListInstances, OpGetTrackingRecords,
	OpQueryInstances, OpCountInstances, OpGetDefinitions}

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
	CompletionException string            `json:"completionException,omitempty"`
	SuspensionReason    string            `json:"suspensionReason"`
	SuspensionException string            `json:"suspensionException,omitempty"`
	Bookmarks           []string          `json:"bookmarks"`
	Definition          workflow.Identity `json:"definition"`
	Variables           map[string]any    `json:"variables"` // nil (null) when QueryInstances was not asked for them
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

// Page is one page of QueryInstances.
type Page struct {
	Instances     []*Instance `json:"instances"`
	NextPageToken string      `json:"nextPageToken,omitempty"`
}

// Counts is what CountInstances returns: the total, and the groups when grouped.
type Counts struct {
	Total  int64   `json:"total"`
	Groups []Count `json:"groups,omitempty"`
}

// Count is one group of CountInstances: its key (the field its groupBy names) and count.
type Count struct {
	State      workflow.State     `json:"state,omitempty"`
	Definition *workflow.Identity `json:"definition,omitempty"`
	Exception  *string            `json:"exception,omitempty"` // "" for the instances without one
	Count      int64              `json:"count"`
}

// Definition is a registered definition as GetDefinitions describes it.
type Definition struct {
	workflow.Identity
	Source        string              `json:"source"`   // embedded or file
	Location      string              `json:"location"` // the sample's name in the binary, or the file's path
	Arguments     []Argument          `json:"arguments"`
	UpdatableFrom []workflow.Identity `json:"updatableFrom"`
}

// Argument is a definition's input argument.
type Argument struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Required bool   `json:"required"`
	Default  string `json:"default,omitempty"` // the expression as written
}
