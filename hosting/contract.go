// Package hosting is wimp's own SOAP contract for creating instances, resuming their bookmarks
// and reading them back (the counterpart of WF4's IWorkflowCreation/hosting endpoints, which
// MS-WFIM leaves out), querying and counting them by filter, listing the registered
// definitions, running bulk operations over a filter's instances and purging completed ones.
// Server operations live in server.go (the operations table), query.go and bulk.go, a Go
// client in client.go and the published WSDL in wsdl.go.
package hosting

import (
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/workflow"
)

// NS is the contract namespace: body elements and fault subcodes of this contract.
const NS = "urn:wimp:workflow-hosting:2026-11"

const actionPrefix = NS + "/IWorkflowHosting/"

// Operation names.
const (
	OpCreate               = "Create"
	OpCreateWithInstanceID = "CreateWithInstanceId"
	// OpCreateWithCorrelationKey creates an instance found by a business key (WF4's
	// CreateWithCorrelationKey; a key another stored instance holds is InstanceExists).
	OpCreateWithCorrelationKey = "CreateWithCorrelationKey"
	OpResumeBookmark           = "ResumeBookmark"
	OpGetInstance              = "GetInstance"
	OpListInstances            = "ListInstances"
	OpGetTrackingRecords       = "GetTrackingRecords"
	OpQueryInstances           = "QueryInstances"
	OpCountInstances           = "CountInstances"
	OpGetDefinitions           = "GetDefinitions"
	OpStartBulkOperation       = "StartBulkOperation"
	OpGetBulkOperation         = "GetBulkOperation"
	OpCancelBulkOperation      = "CancelBulkOperation"
	OpPurge                    = "Purge"
	// OpGetNodes lists the live nodes sharing the store (README, "Running several nodes").
	OpGetNodes = "GetNodes"
)

var opNames = []string{OpCreate, OpCreateWithInstanceID, OpCreateWithCorrelationKey, OpResumeBookmark, OpGetInstance, OpListInstances, OpGetTrackingRecords,
	OpQueryInstances, OpCountInstances, OpGetDefinitions, OpStartBulkOperation, OpGetBulkOperation, OpCancelBulkOperation, OpPurge, OpGetNodes}

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
	// FaultBulkOperationNotFound: no bulk operation (job) has the jobId.
	FaultBulkOperationNotFound = "BulkOperationNotFound"
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
	CurrentState        string            `json:"currentState,omitempty"`
	CorrelationKey      string            `json:"correlationKey,omitempty"`
	Parent              string            `json:"parent,omitempty"`     // the instance whose InvokeWorkflow started it
	Properties          map[string]string `json:"properties,omitempty"` // promoted properties
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

// BulkOperation is a bulk job as StartBulkOperation, GetBulkOperation and CancelBulkOperation
// return it: the request it was started with, who started it, and its progress.
type BulkOperation struct {
	ID        uuid.UUID          `json:"id"`
	Operation string             `json:"operation"` // Suspend, Unsuspend, Run, Cancel, Terminate, Abandon or Update
	Filter    host.Filter        `json:"filter"`
	Reason    string             `json:"reason,omitempty"`
	Identity  *workflow.Identity `json:"identity,omitempty"` // Update's target
	DryRun    bool               `json:"dryRun"`
	// RatePerSecond as requested: 0 is the default, host.DefaultBulkRate (a dry run is not
	// paced).
	RatePerSecond float64 `json:"ratePerSecond"`
	MaxInstances  int64   `json:"maxInstances"` // 0: no limit
	Principal     string  `json:"principal"`
	Status        string  `json:"status"`          // Running, Completed, Canceled or Failed
	Error         string  `json:"error,omitempty"` // why a Failed job stopped
	// Estimate: the instances the filter selected when the job started (at most MaxInstances).
	// Matched: instances reached so far; Done: of them, handled; OK: of them, succeeded (in a
	// dry run: would be changed).
	Estimate int64 `json:"estimate"`
	Matched  int64 `json:"matched"`
	Done     int64 `json:"done"`
	OK       int64 `json:"ok"`
	// Faults counts the other handled instances by outcome: the MS-WFIM fault subcode a single
	// call would have got (InstanceCompleted, InstanceTerminated, InstanceSuspended, ...).
	Faults  map[string]int64 `json:"faults"`
	Created time.Time        `json:"created"`
	Updated time.Time        `json:"updated"`
}

// Running reports whether the job has not ended yet.
func (j *BulkOperation) Running() bool { return j.Status == BulkRunning }

// Bulk job statuses (BulkOperation.Status).
const (
	BulkRunning   = "Running"
	BulkCompleted = "Completed"
	BulkCanceled  = "Canceled"
	BulkFailed    = "Failed"
)

// BulkOutcomeOK is the outcome of an instance the job's operation succeeded on (in a dry run:
// would be applied to).
const BulkOutcomeOK = "ok"

// BulkItem is a bulk job's result for one instance.
type BulkItem struct {
	Seq      int64     `json:"seq"` // 1, 2, ... in the order the job handled the instances
	Instance uuid.UUID `json:"instanceId"`
	Outcome  string    `json:"outcome"`          // BulkOutcomeOK, or the fault subcode
	Detail   string    `json:"detail,omitempty"` // why it was refused
	Time     time.Time `json:"time"`
}

// BulkPage is what GetBulkOperation returns: the job, a page of its per-instance results and
// the seq to ask for the next page after (the last item's, or the one asked after when the
// page is empty).
type BulkPage struct {
	Job            *BulkOperation `json:"job"`
	Items          []BulkItem     `json:"items"`
	NextItemsAfter int64          `json:"nextItemsAfter"`
}

// PurgeResult is what Purge did, or in a dry run would do.
type PurgeResult struct {
	Purged int64 `json:"purged"` // Completed instances deleted (dry run: that would be)
	Live   int64 `json:"live"`   // Active and Suspended instances the filter selected, never purged
}

// Node is a live node sharing the server's store, as GetNodes returns it.
type Node struct {
	ID         string    `json:"id"`        // its registration, new each time the process starts
	Name       string    `json:"name"`      // its --node-id
	Advertise  string    `json:"advertise"` // the URL other nodes forward to; "" if none
	Info       string    `json:"info"`
	Registered time.Time `json:"registered"`
	Renewed    time.Time `json:"renewed"` // its last successful lease renewal
	Expiry     time.Time `json:"expiry"`  // its registration lapses then unless renewed
	Instances  int       `json:"instances"`
	Self       bool      `json:"self"` // the node that answered
}
