package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/protocol"
	"github.com/wimp-project/wimp/workflow"
)

// Host is what the dashboard needs of the host (*host.Host). Each method authorizes the
// principal its context carries.
type Host interface {
	Authorize(ctx context.Context, op string, need host.Role) error
	// Do applies an action, on the node holding the instance when that is another one.
	Do(ctx context.Context, r host.Request) error
	Get(ctx context.Context, id uuid.UUID) (*host.Instance, error)
	Records(ctx context.Context, id uuid.UUID, after int64) ([]workflow.Record, error)
	Query(ctx context.Context, req host.QueryRequest) (*host.QueryResult, error)
	Count(ctx context.Context, f host.Filter, by host.GroupBy) (*host.CountResult, error)
	Definitions(ctx context.Context) ([]host.Definition, error)
	StartBulk(ctx context.Context, req host.BulkRequest) (*host.BulkJob, error)
	GetBulk(ctx context.Context, id uuid.UUID, after int64, limit int) (*host.BulkJob, []host.BulkItem, error)
	CancelBulk(ctx context.Context, id uuid.UUID) (*host.BulkJob, error)
	ListBulk(ctx context.Context, status string) ([]*host.BulkJob, error)
	Health(ctx context.Context) error
}

var _ Host = (*host.Host)(nil)

// Roles of the operations that are not MS-WFIM's (whose roles are protocol.Op.Requires): as
// the host authorizes them (host.ResumeBookmark, StartBulk, CancelBulk).
var otherRoles = map[string]host.Role{
	"ResumeBookmark":      host.Operator,
	"StartBulkOperation":  host.Admin,
	"CancelBulkOperation": host.Admin,
}

// Sizes of what the API returns.
const (
	maxRecords  = 500 // an instance's most recent tracking records
	recentShown = 10  // recently suspended instances on the overview
	recentScan  = 200 // instances read per window to find them
	bulkItems   = 100 // a bulk job's per-instance results per read
)

// get wraps a read: GET or HEAD, its value answered as JSON with an ETag.
func (u *handler) get(fn func(*http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !allowMethod(w, r, http.MethodGet, http.MethodHead) {
			return
		}
		v, err := fn(r)
		if err != nil {
			writeError(w, u.log, err)
			return
		}
		if err := writeJSON(w, r, http.StatusOK, v); err != nil {
			u.log.Error("dashboard reply failed", "path", r.URL.Path, "err", err)
		}
	}
}

// post wraps a state-changing request: POST, from this origin with the caller's token
// (checkForgery) before anything else is looked at.
func (u *handler) post(fn func(http.ResponseWriter, *http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !allowMethod(w, r, http.MethodPost) {
			return
		}
		if e := u.checkForgery(r); e != nil {
			writeError(w, u.log, e)
			return
		}
		v, err := fn(w, r)
		if err != nil {
			writeError(w, u.log, err)
			return
		}
		if err := writeJSON(w, r, http.StatusOK, v); err != nil {
			u.log.Error("dashboard reply failed", "path", r.URL.Path, "err", err)
		}
	}
}

// readBody reads a request body of at most maxBody bytes.
// pathRequest is the common start of a state-changing request on the instance or bulk job its
// path names ({id}): authorized for op with role need before anything of the request is read,
// then the id and the (bounded) body.
func (u *handler) pathRequest(w http.ResponseWriter, r *http.Request, op string, need host.Role) (uuid.UUID, []byte, error) {
	if err := u.h.Authorize(r.Context(), op, need); err != nil {
		return uuid.Nil, nil, err
	}
	id, err := parseID(r.PathValue("id"))
	if err != nil {
		return uuid.Nil, nil, err
	}
	b, err := u.readBody(w, r)
	if err != nil {
		return uuid.Nil, nil, err
	}
	return id, b, nil
}

func (u *handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	tooLarge := &apiError{http.StatusRequestEntityTooLarge, "PayloadTooLarge",
		fmt.Sprintf("the request body is larger than %d bytes", u.maxBody)}
	if r.ContentLength > u.maxBody {
		return nil, tooLarge
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, u.maxBody))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, tooLarge
	case err != nil:
		return nil, badRequest("the request body could not be read: " + err.Error())
	}
	return b, nil
}

func parseID(s string) (uuid.UUID, error) {
	id, err := protocol.ParseGUID(s)
	if err != nil {
		return uuid.Nil, badRequest(fmt.Sprintf("%q is not an instance id: %v", s, err))
	}
	return id, nil
}

// noParams refuses a query string with any parameter but the allowed ones.
func noParams(r *http.Request, allowed ...string) (url.Values, error) {
	vals, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, badRequest("the query string is malformed: " + err.Error())
	}
	for k, vs := range vals {
		if !slices.Contains(allowed, k) {
			return nil, badRequest(fmt.Sprintf("unknown parameter %q", k))
		}
		if len(vs) > 1 {
			return nil, badRequest(fmt.Sprintf("parameter %q is given %d times", k, len(vs)))
		}
	}
	return vals, nil
}

// JSON views.

type instanceJSON struct {
	ID                  string              `json:"id"`
	Definition          workflow.Identity   `json:"definition"`
	State               workflow.State      `json:"state"`
	Completion          workflow.Completion `json:"completion,omitempty"`
	CompletionReason    string              `json:"completionReason,omitempty"`
	CompletionException string              `json:"completionException,omitempty"`
	SuspensionReason    string              `json:"suspensionReason,omitempty"`
	SuspensionException string              `json:"suspensionException,omitempty"`
	// CurrentState is a state machine's current state (host.Instance.CurrentState).
	CurrentState    string            `json:"currentState,omitempty"`
	CorrelationKey  string            `json:"correlationKey,omitempty"`
	Parent          string            `json:"parent,omitempty"`     // the instance whose InvokeWorkflow started it
	Properties      map[string]string `json:"properties,omitempty"` // promoted properties
	Bookmarks       []string          `json:"bookmarks"`
	PendingTimer    time.Time         `json:"pendingTimer,omitzero"`
	ExecutionStatus string            `json:"executionStatus,omitempty"`
	Variables       json.RawMessage   `json:"variables,omitempty"`
	Created         time.Time         `json:"created"`
	Updated         time.Time         `json:"updated"`
}

func instanceView(in *host.Instance) instanceJSON {
	v := instanceJSON{ID: in.ID.String(), Definition: in.Definition, State: in.State, Completion: in.Completion,
		CompletionReason: in.CompletionReason, CompletionException: in.CompletionException,
		SuspensionReason: in.SuspensionReason, SuspensionException: in.SuspensionException,
		Bookmarks: in.Bookmarks, PendingTimer: in.PendingTimer, ExecutionStatus: in.ExecutionStatus,
		CurrentState: in.CurrentState, CorrelationKey: in.CorrelationKey, Properties: in.Properties, Created: in.Created, Updated: in.Updated}
	if in.Parent != uuid.Nil {
		v.Parent = in.Parent.String()
	}
	if v.Bookmarks == nil {
		v.Bookmarks = []string{}
	}
	if json.Valid(in.Variables) {
		v.Variables = in.Variables
	}
	return v
}

type recordJSON struct {
	Seq       int64               `json:"seq"`
	Time      time.Time           `json:"time"`
	Kind      workflow.RecordKind `json:"kind"`
	Name      string              `json:"name"`
	Activity  string              `json:"activity,omitempty"`
	Reason    string              `json:"reason,omitempty"`
	Principal string              `json:"principal,omitempty"`
	Data      string              `json:"data,omitempty"`
}

type jobJSON struct {
	ID        string           `json:"id"`
	Operation string           `json:"operation"`
	Filter    host.Filter      `json:"filter"`
	Search    string           `json:"search"` // the filter as a search's query string
	Reason    string           `json:"reason,omitempty"`
	DryRun    bool             `json:"dryRun"`
	Principal string           `json:"principal"`
	Status    string           `json:"status"`
	Estimate  int64            `json:"estimate"`
	Matched   int64            `json:"matched"`
	Done      int64            `json:"done"`
	OK        int64            `json:"ok"`
	Faults    map[string]int64 `json:"faults"`
	Error     string           `json:"error,omitempty"`
	Created   time.Time        `json:"created"`
	Updated   time.Time        `json:"updated"`
}

func jobView(j *host.BulkJob) jobJSON {
	faults := j.Faults
	if faults == nil {
		faults = map[string]int64{}
	}
	return jobJSON{ID: j.ID.String(), Operation: j.Request.Operation, Filter: j.Request.Filter,
		Search: encodeSearch(host.QueryRequest{Filter: j.Request.Filter}), Reason: j.Request.Reason, DryRun: j.Request.DryRun,
		Principal: j.Principal, Status: j.Status, Estimate: j.Estimate, Matched: j.Matched, Done: j.Done, OK: j.OK,
		Faults: faults, Error: j.Error, Created: j.Created, Updated: j.Updated}
}

type definitionJSON struct {
	Name    string `json:"name"`
	Package string `json:"package"`
	Version string `json:"version"`
}

// GET /ui/api/session: who the caller is, which operations their role allows (the pages show
// only those buttons; the host checks again), the CSRF token, and the registered definitions.
func (u *handler) session(r *http.Request) (any, error) {
	if _, err := noParams(r); err != nil {
		return nil, err
	}
	p := host.PrincipalFrom(r.Context())
	allowed := map[string]bool{}
	for _, name := range actionOps {
		op, _ := protocol.OpByName(name)
		allowed[name] = p.Role >= op.Requires()
	}
	for name, need := range otherRoles {
		allowed[name] = p.Role >= need
	}
	defs, err := u.h.Definitions(r.Context())
	if err != nil {
		return nil, err
	}
	dj := make([]definitionJSON, 0, len(defs))
	for _, d := range defs {
		dj = append(dj, definitionJSON{d.Identity.Name, d.Identity.Package, d.Identity.Version})
	}
	return struct {
		User        string           `json:"user"`
		Role        string           `json:"role"`
		Token       string           `json:"csrfToken"`
		TokenHeader string           `json:"csrfHeader"`
		Allowed     map[string]bool  `json:"allowed"`
		Definitions []definitionJSON `json:"definitions"`
	}{p.Name, p.Role.String(), u.token(p.Name), TokenHeader, allowed, dj}, nil
}

// GET /ui/api/overview: counts by state and by definition, the suspended instances' exceptions
// and the most recently suspended ones, the bulk jobs running, and the store's health.
func (u *handler) overview(r *http.Request) (any, error) {
	if _, err := noParams(r); err != nil {
		return nil, err
	}
	ctx := r.Context()
	byState, err := u.h.Count(ctx, host.Filter{}, host.GroupByState)
	if err != nil {
		return nil, err
	}
	byDef, err := u.h.Count(ctx, host.Filter{}, host.GroupByDefinition)
	if err != nil {
		return nil, err
	}
	byExc, err := u.h.Count(ctx, host.Filter{State: workflow.Suspended}, host.GroupByException)
	if err != nil {
		return nil, err
	}
	recent, err := u.recentSuspended(ctx)
	if err != nil {
		return nil, err
	}
	jobs, err := u.h.ListBulk(ctx, host.BulkRunning)
	if err != nil {
		return nil, err
	}
	type stateCount struct {
		State workflow.State `json:"state"`
		N     int64          `json:"count"`
	}
	type defCount struct {
		Definition workflow.Identity `json:"definition"`
		N          int64             `json:"count"`
	}
	type excCount struct {
		Exception string `json:"exception"`
		N         int64  `json:"count"`
	}
	out := struct {
		Total       int64          `json:"total"`
		States      []stateCount   `json:"states"`
		Definitions []defCount     `json:"definitions"`
		Exceptions  []excCount     `json:"suspendedExceptions"`
		Suspended   []instanceJSON `json:"recentlySuspended"`
		Bulk        []jobJSON      `json:"bulkJobs"`
		Health      struct {
			OK    bool   `json:"ok"`
			Error string `json:"error,omitempty"`
		} `json:"health"`
	}{Total: byState.Total, States: []stateCount{}, Definitions: []defCount{}, Exceptions: []excCount{}, Suspended: recent, Bulk: []jobJSON{}}
	counted := map[workflow.State]int64{}
	for _, g := range byState.Groups {
		counted[g.State] = g.N
	}
	for _, s := range states { // every state, zeros included, in the table's order
		out.States = append(out.States, stateCount{s, counted[s]})
	}
	for _, g := range byDef.Groups {
		out.Definitions = append(out.Definitions, defCount{g.Definition, g.N})
	}
	for _, g := range byExc.Groups {
		out.Exceptions = append(out.Exceptions, excCount{g.Exception, g.N})
	}
	for _, j := range jobs {
		out.Bulk = append(out.Bulk, jobView(j))
	}
	if err := u.h.Health(ctx); err != nil {
		out.Health.Error = err.Error()
	} else {
		out.Health.OK = true
	}
	return out, nil
}

// recentSuspended finds the most recently suspended instances without reading them all: the
// suspended instances updated in the last hour, day, week, month or ever, the narrowest window
// that holds recentShown of them, newest first (among the first recentScan of the window: a
// query's order is by creation, not by update).
func (u *handler) recentSuspended(ctx context.Context) ([]instanceJSON, error) {
	now := time.Now().UTC()
	for _, window := range []time.Duration{time.Hour, 24 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour, 0} {
		f := host.Filter{State: workflow.Suspended}
		if window > 0 {
			f.UpdatedAfter = now.Add(-window)
		}
		res, err := u.h.Query(ctx, host.QueryRequest{Filter: f, PageSize: recentScan})
		if err != nil {
			return nil, err
		}
		if len(res.Instances) < recentShown && window > 0 {
			continue
		}
		ins := res.Instances
		slices.SortStableFunc(ins, func(a, b *host.Instance) int { return b.Updated.Compare(a.Updated) })
		out := []instanceJSON{}
		for _, in := range ins[:min(len(ins), recentShown)] {
			out = append(out, instanceView(in))
		}
		return out, nil
	}
	panic("unreachable: the last window is unbounded")
}

// GET /ui/api/instances?FILTER&pageSize=N&pageToken=T: a page of the search and how many
// instances it selects in all.
func (u *handler) search(r *http.Request) (any, error) {
	req, err := parseSearch(r.URL.RawQuery, true)
	if err != nil {
		return nil, err
	}
	if req.PageSize == 0 {
		req.PageSize = 50
	}
	res, err := u.h.Query(r.Context(), req)
	if err != nil {
		return nil, err
	}
	n, err := u.h.Count(r.Context(), req.Filter, host.GroupNone)
	if err != nil {
		return nil, err
	}
	out := struct {
		Instances []instanceJSON `json:"instances"`
		Next      string         `json:"nextPageToken,omitempty"`
		Total     int64          `json:"total"`
		Search    string         `json:"search"` // the filter, canonical
	}{Instances: []instanceJSON{}, Next: res.NextPageToken, Total: n.Total, Search: encodeSearch(host.QueryRequest{Filter: req.Filter})}
	for _, in := range res.Instances {
		out.Instances = append(out.Instances, instanceView(in))
	}
	return out, nil
}

// GET /ui/api/instances/{id}: the instance, how many instances it started, and its most recent
// tracking records.
func (u *handler) instance(r *http.Request) (any, error) {
	if _, err := noParams(r); err != nil {
		return nil, err
	}
	id, err := parseID(r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	in, err := u.h.Get(r.Context(), id)
	if err != nil {
		return nil, err
	}
	recs, err := u.h.Records(r.Context(), id, 0)
	if err != nil {
		return nil, err
	}
	// The instances it started (InvokeWorkflow): one count through the parent index.
	children, err := u.h.Count(r.Context(), host.Filter{Parent: id}, host.GroupNone)
	if err != nil {
		return nil, err
	}
	omitted := max(0, len(recs)-maxRecords)
	out := struct {
		Instance instanceJSON `json:"instance"`
		Children int64        `json:"children"`
		Records  []recordJSON `json:"records"`
		Omitted  int          `json:"recordsOmitted"`
	}{Instance: instanceView(in), Children: children.Total, Records: make([]recordJSON, 0, len(recs)-omitted), Omitted: omitted}
	for _, rec := range recs[omitted:] {
		out.Records = append(out.Records, recordJSON{rec.Seq, rec.Time, rec.Kind, rec.Name, rec.Activity, rec.Reason, rec.Principal, rec.Data})
	}
	return out, nil
}

// actionReply is the answer to an action that succeeded: in words, with the instance after it.
type actionReply struct {
	Outcome   string        `json:"outcome"` // "ok"
	Operation string        `json:"operation"`
	Message   string        `json:"message"`
	Instance  *instanceJSON `json:"instance,omitempty"`
	Job       *jobJSON      `json:"job,omitempty"`
}

// after reads the instance an action succeeded on, for the reply's words.
func (u *handler) after(ctx context.Context, op, done string, id uuid.UUID) (any, error) {
	in, err := u.h.Get(ctx, id)
	if err != nil {
		// The action was committed; the instance may be gone since (a purge): say so.
		return actionReply{Outcome: host.OutcomeOK, Operation: op, Message: done}, nil
	}
	v := instanceView(in)
	msg := fmt.Sprintf("%s The instance is now %s", done, v.State)
	if v.Completion != "" {
		msg += " (" + string(v.Completion) + ")"
	}
	return actionReply{Outcome: host.OutcomeOK, Operation: op, Message: msg + ".", Instance: &v}, nil
}

// POST /ui/api/instances/{id}/actions/{op} {"reason": R}: the MS-WFIM operation op, as a SOAP
// call of it would be: authorized with the operation's role before the body is read, then the
// contract's command through the host's state table.
func (u *handler) action(w http.ResponseWriter, r *http.Request) (any, error) {
	op := r.PathValue("op")
	if !slices.Contains(actionOps, op) {
		return nil, &apiError{http.StatusNotFound, "NotFound", fmt.Sprintf("the dashboard has no action %q (it has %v)", op, actionOps)}
	}
	o, _ := protocol.OpByName(op)
	id, b, err := u.pathRequest(w, r, op, o.Requires())
	if err != nil {
		return nil, err
	}
	reason, err := parseAction(op, b)
	if err != nil {
		return nil, err
	}
	if err := u.h.Do(r.Context(), host.Request{Operation: op, Instance: id, Reason: reason}); err != nil {
		return nil, err
	}
	return u.after(r.Context(), op, op+": done.", id)
}

// POST /ui/api/instances/{id}/resume {"bookmark": B, "payload": JSON}: the hosting contract's
// ResumeBookmark.
func (u *handler) resume(w http.ResponseWriter, r *http.Request) (any, error) {
	const op = "ResumeBookmark"
	id, b, err := u.pathRequest(w, r, op, otherRoles[op])
	if err != nil {
		return nil, err
	}
	bookmark, payload, err := parseResume(b)
	if err != nil {
		return nil, err
	}
	if err := u.h.Do(r.Context(), host.Request{Operation: host.OpResumeBookmark, Instance: id, Bookmark: bookmark, Payload: payload}); err != nil {
		return nil, err
	}
	return u.after(r.Context(), op, fmt.Sprintf("Bookmark %q resumed.", bookmark), id)
}

// POST /ui/api/bulk {"operation", "reason", "search", "dryRun", "ratePerSecond",
// "maxInstances"}: a bulk job over a search's instances.
func (u *handler) startBulk(w http.ResponseWriter, r *http.Request) (any, error) {
	const op = "StartBulkOperation"
	if err := u.h.Authorize(r.Context(), op, otherRoles[op]); err != nil {
		return nil, err
	}
	b, err := u.readBody(w, r)
	if err != nil {
		return nil, err
	}
	req, err := parseBulk(b)
	if err != nil {
		return nil, err
	}
	j, err := u.h.StartBulk(r.Context(), req)
	if err != nil {
		return nil, err
	}
	v := jobView(j)
	what := "started"
	if req.DryRun {
		what = "started as a dry run (nothing is changed)"
	}
	return actionReply{Outcome: host.OutcomeOK, Operation: op, Job: &v,
		Message: fmt.Sprintf("Bulk %s %s: about %d instances.", req.Operation, what, j.Estimate)}, nil
}

// GET /ui/api/bulk/{id}?after=SEQ: a bulk job's progress and its per-instance results after
// SEQ (at most bulkItems).
func (u *handler) bulk(r *http.Request) (any, error) {
	vals, err := noParams(r, "after")
	if err != nil {
		return nil, err
	}
	id, err := parseID(r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	var after int64
	if s := vals.Get("after"); s != "" || vals.Has("after") {
		if after, err = strconv.ParseInt(s, 10, 64); err != nil || after < 0 {
			return nil, badRequest(fmt.Sprintf("after %q is not a whole number from 0", s))
		}
	}
	j, items, err := u.h.GetBulk(r.Context(), id, after, bulkItems)
	if err != nil {
		return nil, err
	}
	type itemJSON struct {
		Seq      int64     `json:"seq"`
		Instance string    `json:"instance"`
		Outcome  string    `json:"outcome"`
		Detail   string    `json:"detail,omitempty"`
		Time     time.Time `json:"time"`
	}
	out := struct {
		Job   jobJSON    `json:"job"`
		Items []itemJSON `json:"items"`
	}{Job: jobView(j), Items: []itemJSON{}}
	for _, it := range items {
		out.Items = append(out.Items, itemJSON{it.Seq, it.Instance.String(), it.Outcome, it.Detail, it.Time})
	}
	return out, nil
}

// POST /ui/api/bulk/{id}/cancel {}: stops a bulk job where it is.
func (u *handler) cancelBulk(w http.ResponseWriter, r *http.Request) (any, error) {
	const op = "CancelBulkOperation"
	id, b, err := u.pathRequest(w, r, op, otherRoles[op])
	if err != nil {
		return nil, err
	}
	if err := decodeBody(b, &struct{}{}); err != nil {
		return nil, err
	}
	j, err := u.h.CancelBulk(r.Context(), id)
	if err != nil {
		return nil, err
	}
	v := jobView(j)
	return actionReply{Outcome: host.OutcomeOK, Operation: op, Job: &v,
		Message: fmt.Sprintf("Bulk job %s is %s after %d of about %d instances.", j.ID, j.Status, j.Done, j.Estimate)}, nil
}
