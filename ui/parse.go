package ui

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/workflow"
)

// The search's parameters: host.Filter's fields under their JSON names, and the page.
const (
	pState          = "state"
	pCompletion     = "completion"
	pDefinition     = "definition"
	pPackage        = "package"
	pVersion        = "version"
	pVersionMin     = "versionMin"
	pVersionMax     = "versionMax"
	pException      = "exception"
	pReasonContains = "reasonContains"
	pBookmark       = "bookmark"
	pCreatedAfter   = "createdAfter"
	pCreatedBefore  = "createdBefore"
	pUpdatedAfter   = "updatedAfter"
	pUpdatedBefore  = "updatedBefore"
	pCorrelationKey = "correlationKey"
	pCurrentState   = "currentState"
	pParent         = "parent"
	pHasParent      = "hasParent"
	pPageSize       = "pageSize"
	pPageToken      = "pageToken"
)

var filterParams = []string{pState, pCompletion, pDefinition, pPackage, pVersion, pVersionMin, pVersionMax,
	pException, pReasonContains, pBookmark, pCreatedAfter, pCreatedBefore, pUpdatedAfter, pUpdatedBefore,
	pCorrelationKey, pCurrentState, pParent, pHasParent}

// propertyPrefix starts a promoted property's parameter: property.NAME=VALUE selects the
// instances whose property NAME is VALUE (host.Filter.Properties).
const propertyPrefix = "property."

var states = []workflow.State{workflow.Active, workflow.Suspended, workflow.Completed}

var completions = []workflow.Completion{workflow.Closed, workflow.Canceled, workflow.Terminated, workflow.Faulted}

// parseSearch reads a search (the query string of /ui/search and of GET /ui/api/instances):
// every filter of host.Filter (property.NAME for each promoted property) and, when paging,
// pageSize and pageToken. Each parameter at most
// once and never empty; states and completions in any case; times in RFC 3339. What the host
// checks itself (versions, the page token) it refuses with its own words.
func parseSearch(rawQuery string, paging bool) (host.QueryRequest, error) {
	var req host.QueryRequest
	vals, err := url.ParseQuery(rawQuery)
	if err != nil {
		return req, badRequest("the query string is malformed: " + err.Error())
	}
	known := map[string]bool{}
	for _, p := range filterParams {
		known[p] = true
	}
	if paging {
		known[pPageSize], known[pPageToken] = true, true
	}
	names := make([]string, 0, len(vals))
	for k := range vals {
		names = append(names, k)
	}
	sort.Strings(names) // the first offending parameter is the same every time
	for _, k := range names {
		vs := vals[k]
		prop, isProp := strings.CutPrefix(k, propertyPrefix)
		switch {
		case isProp && prop == "":
			return req, badRequest(fmt.Sprintf("parameter %q names no property (property.NAME=VALUE)", k))
		case isProp && !utf8.ValidString(prop):
			return req, badRequest(fmt.Sprintf("parameter %q is not valid UTF-8", k))
		case !known[k] && !isProp:
			return req, badRequest(fmt.Sprintf("unknown parameter %q (a search takes %s, %sNAME)", k,
				strings.Join(append(slices.Clone(filterParams), pageParams(paging)...), ", "), propertyPrefix))
		case len(vs) > 1:
			return req, badRequest(fmt.Sprintf("parameter %q is given %d times", k, len(vs)))
		case vs[0] == "":
			return req, badRequest(fmt.Sprintf("parameter %q is empty (leave it out to not filter by it)", k))
		case !utf8.ValidString(vs[0]):
			return req, badRequest(fmt.Sprintf("parameter %q is not valid UTF-8", k))
		}
	}
	get := func(k string) string { return vals.Get(k) }
	f := &req.Filter
	if s := get(pState); s != "" {
		i := indexFold(states, s)
		if i < 0 {
			return req, badRequest(fmt.Sprintf("state %q is not Active, Suspended or Completed", s))
		}
		f.State = states[i]
	}
	if s := get(pCompletion); s != "" {
		i := indexFold(completions, s)
		if i < 0 {
			return req, badRequest(fmt.Sprintf("completion %q is not Closed, Canceled, Terminated or Faulted", s))
		}
		f.Completion = completions[i]
	}
	f.Definition, f.Package = get(pDefinition), get(pPackage)
	f.Version, f.VersionMin, f.VersionMax = get(pVersion), get(pVersionMin), get(pVersionMax)
	f.Exception, f.ReasonContains, f.Bookmark = get(pException), get(pReasonContains), get(pBookmark)
	f.CorrelationKey, f.CurrentState = get(pCorrelationKey), get(pCurrentState)
	if s := get(pParent); s != "" {
		id, err := uuid.Parse(s)
		if err != nil || id == uuid.Nil {
			return req, badRequest(fmt.Sprintf("parent %q is not an instance id (a GUID)", s))
		}
		f.Parent = id
	}
	if s := get(pHasParent); s != "" {
		if s != "true" {
			return req, badRequest(fmt.Sprintf("hasParent %q: the only value is true (leave it out for every instance)", s))
		}
		f.HasParent = true
	}
	for _, k := range names {
		if prop, ok := strings.CutPrefix(k, propertyPrefix); ok {
			if f.Properties == nil {
				f.Properties = map[string]string{}
			}
			f.Properties[prop] = get(k)
		}
	}
	for _, t := range []struct {
		name string
		to   *time.Time
	}{{pCreatedAfter, &f.CreatedAfter}, {pCreatedBefore, &f.CreatedBefore}, {pUpdatedAfter, &f.UpdatedAfter}, {pUpdatedBefore, &f.UpdatedBefore}} {
		s := get(t.name)
		if s == "" {
			continue
		}
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return req, badRequest(fmt.Sprintf("%s %q is not an RFC 3339 time (e.g. 2026-12-01T09:30:00Z)", t.name, s))
		}
		*t.to = v.UTC()
	}
	if s := get(pPageSize); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > host.MaxPageSize {
			return req, badRequest(fmt.Sprintf("pageSize %q is not a whole number from 1 to %d", s, host.MaxPageSize))
		}
		req.PageSize = n
	}
	req.PageToken = get(pPageToken)
	return req, nil
}

func pageParams(paging bool) []string {
	if paging {
		return []string{pPageSize, pPageToken}
	}
	return nil
}

func indexFold[T ~string](list []T, s string) int {
	for i, v := range list {
		if strings.EqualFold(string(v), s) {
			return i
		}
	}
	return -1
}

// encodeSearch is parseSearch's inverse: the query string that selects f (and the page).
func encodeSearch(req host.QueryRequest) string {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	f := req.Filter
	set(pState, string(f.State))
	set(pCompletion, string(f.Completion))
	set(pDefinition, f.Definition)
	set(pPackage, f.Package)
	set(pVersion, f.Version)
	set(pVersionMin, f.VersionMin)
	set(pVersionMax, f.VersionMax)
	set(pException, f.Exception)
	set(pReasonContains, f.ReasonContains)
	set(pBookmark, f.Bookmark)
	set(pCorrelationKey, f.CorrelationKey)
	set(pCurrentState, f.CurrentState)
	if f.Parent != uuid.Nil {
		v.Set(pParent, f.Parent.String())
	}
	if f.HasParent {
		v.Set(pHasParent, "true")
	}
	for name, value := range f.Properties {
		v.Set(propertyPrefix+name, value)
	}
	for k, t := range map[string]time.Time{pCreatedAfter: f.CreatedAfter, pCreatedBefore: f.CreatedBefore,
		pUpdatedAfter: f.UpdatedAfter, pUpdatedBefore: f.UpdatedBefore} {
		if !t.IsZero() {
			v.Set(k, t.Format(time.RFC3339Nano))
		}
	}
	if req.PageSize > 0 {
		v.Set(pPageSize, strconv.Itoa(req.PageSize))
	}
	set(pPageToken, req.PageToken)
	return v.Encode()
}

// The JSON bodies of the state-changing requests.

// actionBody is POST /ui/api/instances/{id}/actions/{op}'s body.
type actionBody struct {
	Reason *string `json:"reason"`
}

// resumeBody is POST /ui/api/instances/{id}/resume's body: the bookmark and its payload (any
// JSON value; absent: none).
type resumeBody struct {
	Bookmark string          `json:"bookmark"`
	Payload  json.RawMessage `json:"payload"`
}

// bulkBody is POST /ui/api/bulk's body: the operation, and the search whose instances it
// applies to (a search's query string without its page).
type bulkBody struct {
	Operation     string  `json:"operation"`
	Reason        string  `json:"reason"`
	Search        string  `json:"search"`
	DryRun        bool    `json:"dryRun"`
	RatePerSecond float64 `json:"ratePerSecond"`
	MaxInstances  int64   `json:"maxInstances"`
}

// decodeBody decodes a request body into v strictly: one JSON object, no unknown or repeated
// member, nothing after it, values of the members' types. The error says what is wrong and
// where.
func decodeBody(b []byte, v any) error {
	trimmed := bytes.TrimLeft(b, " \t\r\n")
	if len(trimmed) == 0 {
		return badRequest("the request body is empty; it must be a JSON object")
	}
	if trimmed[0] != '{' {
		return badRequest("the request body must be a JSON object")
	}
	if !utf8.Valid(b) {
		return badRequest("the request body is not valid UTF-8")
	}
	if err := duplicateMember(b); err != nil {
		return err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return badRequest("the request body is not valid: " + jsonProblem(err))
	}
	if _, err := d.Token(); err != io.EOF {
		return badRequest("the request body has data after its JSON object")
	}
	return nil
}

// duplicateMember refuses an object that names a member twice (encoding/json would keep the
// last silently).
func duplicateMember(b []byte) error {
	d := json.NewDecoder(bytes.NewReader(b))
	if _, err := d.Token(); err != nil { // {
		return badRequest("the request body is not valid: " + jsonProblem(err))
	}
	seen := map[string]bool{}
	for d.More() {
		t, err := d.Token()
		if err != nil {
			return badRequest("the request body is not valid: " + jsonProblem(err))
		}
		k, _ := t.(string)
		if seen[k] {
			return badRequest(fmt.Sprintf("the request body names member %q more than once", k))
		}
		seen[k] = true
		var skip json.RawMessage
		if err := d.Decode(&skip); err != nil {
			return badRequest("the request body is not valid: " + jsonProblem(err))
		}
	}
	return nil
}

func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("JSON syntax error at byte %d: %s", se.Offset, se.Error())
	case errors.As(err, &te):
		return fmt.Sprintf("member %q must be a JSON %s, not %s", te.Field, jsonType(te.Type.Kind().String()), te.Value)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "the JSON ends early"
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "ptr":
		return "string or null"
	}
	return "number"
}

// actionOps are the MS-WFIM operations the dashboard offers on an instance.
var actionOps = []string{"Run", "Suspend", "Unsuspend", "Cancel", "Terminate", "Abandon"}

// takesReason reports whether op's request has a reason (MS-WFIM: Suspend, Terminate, Abandon).
func takesReason(op string) bool { return op == "Suspend" || op == "Terminate" || op == "Abandon" }

// parseAction checks an action's body against its operation: Suspend needs a reason that is
// not blank; Terminate and Abandon may have one; the others have none.
func parseAction(op string, b []byte) (reason string, err error) {
	var body actionBody
	if err := decodeBody(b, &body); err != nil {
		return "", err
	}
	if body.Reason != nil {
		reason = *body.Reason
	}
	switch {
	case !takesReason(op) && body.Reason != nil:
		return "", badRequest(op + " takes no reason")
	case op == "Suspend" && strings.TrimSpace(reason) == "":
		return "", badRequest("Suspend needs a reason: say why the instance is held")
	}
	return reason, nil
}

// parseResume reads a bookmark resumption: a bookmark name that is not empty and an optional
// payload, decoded as the hosting contract decodes one (numbers as float64, the engine's).
func parseResume(b []byte) (bookmark string, payload any, err error) {
	var body resumeBody
	if err := decodeBody(b, &body); err != nil {
		return "", nil, err
	}
	if body.Bookmark == "" {
		return "", nil, badRequest("name the bookmark to resume (member \"bookmark\")")
	}
	if len(body.Payload) > 0 {
		if err := json.Unmarshal(body.Payload, &payload); err != nil {
			return "", nil, badRequest("the payload is not valid JSON: " + jsonProblem(err))
		}
	}
	return body.Bookmark, payload, nil
}

// parseBulk reads a bulk job's request: an operation the dashboard offers, the search it
// applies to, and the job's bounds.
func parseBulk(b []byte) (host.BulkRequest, error) {
	var body bulkBody
	if err := decodeBody(b, &body); err != nil {
		return host.BulkRequest{}, err
	}
	if !slices.Contains(actionOps, body.Operation) {
		return host.BulkRequest{}, badRequest(fmt.Sprintf("operation %q is not one of %s", body.Operation, strings.Join(actionOps, ", ")))
	}
	if !takesReason(body.Operation) && body.Reason != "" {
		return host.BulkRequest{}, badRequest(body.Operation + " takes no reason")
	}
	if body.Operation == "Suspend" && strings.TrimSpace(body.Reason) == "" {
		return host.BulkRequest{}, badRequest("Suspend needs a reason: say why the instances are held")
	}
	if body.RatePerSecond < 0 || body.RatePerSecond > 1e6 {
		return host.BulkRequest{}, badRequest("ratePerSecond must be from 0 (the default rate) to 1000000")
	}
	if body.MaxInstances < 0 {
		return host.BulkRequest{}, badRequest("maxInstances must not be negative (0: no limit)")
	}
	q, err := parseSearch(body.Search, false)
	if err != nil {
		return host.BulkRequest{}, err
	}
	return host.BulkRequest{Operation: body.Operation, Filter: q.Filter, Reason: body.Reason, DryRun: body.DryRun,
		RatePerSecond: body.RatePerSecond, MaxInstances: body.MaxInstances}, nil
}
