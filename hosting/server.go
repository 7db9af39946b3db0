package hosting

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"
	"github.com/google/uuid"

	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/protocol"
	"github.com/wimp-project/wimp/soap"
	"github.com/wimp-project/wimp/workflow"
)

// Host is what the hosting endpoint needs from the workflow host (*host.Host). The principal
// recorded with a creation or resumption is the one the request's context carries.
type Host interface {
	Authorize(ctx context.Context, op string, need host.Role) error
	Create(ctx context.Context, req host.CreateRequest) (uuid.UUID, error)
	ResumeBookmark(ctx context.Context, id uuid.UUID, bookmark string, payload any) error
	Get(ctx context.Context, id uuid.UUID) (*host.Instance, error)
	Await(ctx context.Context, id uuid.UUID, wait time.Duration) (*host.Instance, error)
	FindByKey(ctx context.Context, key string) (uuid.UUID, error)
	List(ctx context.Context, state workflow.State, limit int) ([]*host.Instance, error)
	Records(ctx context.Context, id uuid.UUID, after int64) ([]workflow.Record, error)
	Query(ctx context.Context, req host.QueryRequest) (*host.QueryResult, error)
	Count(ctx context.Context, f host.Filter, by host.GroupBy) (*host.CountResult, error)
	Definitions(ctx context.Context) ([]host.Definition, error)
	StartBulk(ctx context.Context, req host.BulkRequest) (*host.BulkJob, error)
	GetBulk(ctx context.Context, id uuid.UUID, after int64, limit int) (*host.BulkJob, []host.BulkItem, error)
	CancelBulk(ctx context.Context, id uuid.UUID) (*host.BulkJob, error)
	Purge(ctx context.Context, f host.Filter, dryRun bool) (*host.PurgeResult, error)
	Nodes(ctx context.Context) ([]host.Node, error)
}

type handler func(ctx context.Context, h Host, args *args) (*etree.Element, error)

// An operation: its handler and the role it needs (README, Security).
type operation struct {
	handle   handler
	requires host.Role
}

var operations = map[string]operation{
	OpCreate:                   {create, host.Operator},
	OpCreateWithInstanceID:     {create, host.Operator},
	OpCreateWithCorrelationKey: {create, host.Operator},
	OpResumeBookmark:           {resumeBookmark, host.Operator},
	OpGetInstance:              {getInstance, host.Reader},
	OpListInstances:            {listInstances, host.Reader},
	OpGetTrackingRecords:       {getTrackingRecords, host.Reader},
	OpQueryInstances:           {queryInstances, host.Reader},
	OpCountInstances:           {countInstances, host.Reader},
	OpGetDefinitions:           {getDefinitions, host.Reader},
	OpStartBulkOperation:       {startBulkOperation, host.Admin},
	OpGetBulkOperation:         {getBulkOperation, host.Reader},
	OpCancelBulkOperation:      {cancelBulkOperation, host.Admin},
	OpPurge:                    {purge, host.Admin},
	OpGetNodes:                 {getNodes, host.Reader},
}

// Operations returns the hosting contract's operations bound to h, for a soap.Endpoint.
func Operations(h Host) []soap.Operation {
	ops := make([]soap.Operation, 0, len(opNames))
	for _, name := range opNames {
		op := operations[name]
		ops = append(ops, soap.Operation{
			Action:      Action(name),
			ReplyAction: ReplyAction(name),
			Element:     soap.QName{Space: NS, Local: name},
			Handle: func(ctx context.Context, req *soap.Request) (*etree.Element, error) {
				// Authorized before the body is read, as on the control endpoint.
				if err := h.Authorize(ctx, name, op.requires); err != nil {
					return nil, toFault(err)
				}
				a, err := readArgs(name, req.Body)
				if err != nil {
					return nil, err
				}
				reply, err := op.handle(ctx, h, a)
				if err != nil {
					return nil, toFault(err)
				}
				return reply, nil
			},
		})
	}
	return ops
}

func create(ctx context.Context, h Host, a *args) (*etree.Element, error) {
	definition, err := a.text("definition")
	if err != nil {
		return nil, err
	}
	version, err := a.text("version")
	if err != nil {
		return nil, err
	}
	req := host.CreateRequest{Definition: definition, Version: version, Inputs: map[string]any{}}
	if req.Definition == "" {
		return nil, argFault("definition is required")
	}
	withID := a.op == OpCreateWithInstanceID
	if a.op == OpCreateWithCorrelationKey {
		if req.CorrelationKey, err = a.text("correlationKey"); err != nil {
			return nil, err
		}
		if req.CorrelationKey == "" {
			return nil, argFault("correlationKey is required")
		}
	}
	if withID {
		id, err := a.instanceID()
		if err != nil {
			return nil, err
		}
		if id == uuid.Nil {
			return nil, argFault("the all-zero GUID cannot name an instance")
		}
		req.ID = id
	}
	if in := a.elems["inputs"]; in != nil {
		for _, e := range in.ChildElements() {
			if e.Tag != "input" {
				continue
			}
			name, err := argText(e, "name")
			if err != nil {
				return nil, err
			}
			if name == "" {
				return nil, argFault("every input needs a name")
			}
			if _, dup := req.Inputs[name]; dup {
				return nil, argFault(fmt.Sprintf("input %q is given more than once", name))
			}
			value, err := argText(e, "value")
			if err != nil {
				return nil, err
			}
			v, err := decodeJSON(value)
			if err != nil {
				return nil, argFault(fmt.Sprintf("input %q: %v", name, err))
			}
			req.Inputs[name] = v
		}
	}
	id, err := h.Create(ctx, req)
	if err != nil {
		return nil, err
	}
	reply := response(a.op)
	if !withID {
		el(reply, "instanceId", id.String())
	}
	return reply, nil
}

func resumeBookmark(ctx context.Context, h Host, a *args) (*etree.Element, error) {
	id, err := a.target(ctx, h)
	if err != nil {
		return nil, err
	}
	name, err := a.text("bookmark")
	if err != nil {
		return nil, err
	}
	if name = strings.TrimSpace(name); name == "" {
		return nil, argFault("bookmark is required")
	}
	p, err := a.text("payload")
	if err != nil {
		return nil, err
	}
	var payload any
	if strings.TrimSpace(p) != "" {
		if payload, err = decodeJSON(p); err != nil {
			return nil, argFault("payload: " + err.Error())
		}
	}
	if err := h.ResumeBookmark(ctx, id, name, payload); err != nil {
		return nil, err
	}
	return response(a.op), nil
}

func getInstance(ctx context.Context, h Host, a *args) (*etree.Element, error) {
	id, err := a.target(ctx, h)
	if err != nil {
		return nil, err
	}
	w, err := a.text("waitSeconds")
	if err != nil {
		return nil, err
	}
	var inst *host.Instance
	if w == "" {
		inst, err = h.Get(ctx, id)
	} else {
		n, perr := strconv.Atoi(strings.TrimSpace(w))
		if perr != nil || n < 0 || n > int(host.MaxAwait/time.Second) {
			return nil, argFault(fmt.Sprintf("waitSeconds %q is not a whole number of seconds from 0 to %d", w, int(host.MaxAwait/time.Second)))
		}
		inst, err = h.Await(ctx, id, time.Duration(n)*time.Second)
	}
	if err != nil {
		return nil, err
	}
	reply := response(a.op)
	writeInstance(reply.CreateElement("instance"), inst)
	return reply, nil
}

func listInstances(ctx context.Context, h Host, a *args) (*etree.Element, error) {
	st, err := a.text("state")
	if err != nil {
		return nil, err
	}
	state := workflow.State(st)
	if state != "" && !state.Valid() {
		return nil, argFault(fmt.Sprintf("state %q is not Active, Suspended or Completed", state))
	}
	limit := 0
	s, err := a.text("limit")
	if err != nil {
		return nil, err
	}
	if s != "" {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 0 {
			return nil, argFault(fmt.Sprintf("limit %q is not a non-negative integer", s))
		}
		limit = n
	}
	list, err := h.List(ctx, state, limit)
	if err != nil {
		return nil, err
	}
	reply := response(a.op)
	for _, inst := range list {
		writeInstance(reply.CreateElement("instance"), inst)
	}
	return reply, nil
}

func getTrackingRecords(ctx context.Context, h Host, a *args) (*etree.Element, error) {
	id, err := a.target(ctx, h)
	if err != nil {
		return nil, err
	}
	var after int64
	s, err := a.text("after")
	if err != nil {
		return nil, err
	}
	if s != "" {
		if after, err = strconv.ParseInt(strings.TrimSpace(s), 10, 64); err != nil {
			return nil, argFault(fmt.Sprintf("after %q is not an integer", s))
		}
	}
	// An id with neither records nor an instance (never created, or purged with its records) is
	// the host's InstanceNotFound.
	recs, err := h.Records(ctx, id, after)
	if err != nil {
		return nil, err
	}
	reply := response(a.op)
	for _, r := range recs {
		e := reply.CreateElement("record")
		el(e, "seq", strconv.FormatInt(r.Seq, 10))
		el(e, "time", r.Time.UTC().Format(time.RFC3339Nano))
		el(e, "kind", string(r.Kind))
		el(e, "name", r.Name)
		optEl(e, "activity", r.Activity)
		optEl(e, "reason", r.Reason)
		optEl(e, "principal", r.Principal)
		optEl(e, "data", r.Data)
	}
	return reply, nil
}

func writeInstance(e *etree.Element, inst *host.Instance) { writeInstanceVars(e, inst, true) }

// writeInstanceVars writes an instance, with its variables when vars.
func writeInstanceVars(e *etree.Element, inst *host.Instance, vars bool) {
	el(e, "id", inst.ID.String())
	el(e, "state", string(inst.State))
	el(e, "completion", string(inst.Completion))
	optEl(e, "completionReason", inst.CompletionReason)
	optEl(e, "completionException", inst.CompletionException)
	el(e, "suspensionReason", inst.SuspensionReason)
	optEl(e, "suspensionException", inst.SuspensionException)
	def := e.CreateElement("definition")
	el(def, "name", inst.Definition.Name)
	el(def, "package", inst.Definition.Package)
	el(def, "version", inst.Definition.Version)
	bm := e.CreateElement("bookmarks")
	for _, b := range inst.Bookmarks {
		el(bm, "bookmark", b)
	}
	if vars {
		v := string(inst.Variables)
		if v == "" {
			v = "{}"
		}
		el(e, "variables", v)
	}
	if !inst.PendingTimer.IsZero() {
		el(e, "pendingTimer", inst.PendingTimer.UTC().Format(time.RFC3339Nano))
	}
	el(e, "executionStatus", inst.ExecutionStatus)
	optEl(e, "currentState", inst.CurrentState)
	optEl(e, "correlationKey", inst.CorrelationKey)
	if inst.Parent != uuid.Nil {
		el(e, "parent", inst.Parent.String())
	}
	if len(inst.Properties) > 0 {
		p, _ := json.Marshal(inst.Properties) // a map of strings always encodes
		el(e, "properties", string(p))
	}
	el(e, "created", inst.Created.UTC().Format(time.RFC3339Nano))
	el(e, "updated", inst.Updated.UTC().Format(time.RFC3339Nano))
}

// args holds a request wrapper's children by local name (contract namespace or none).
type args struct {
	op    string
	elems map[string]*etree.Element
}

func readArgs(op string, body *etree.Element) (*args, error) {
	if body == nil || body.Tag != op || (body.NamespaceURI() != NS && body.NamespaceURI() != "") {
		return nil, argFault(fmt.Sprintf("expecting element '%s' from namespace '%s'", op, NS))
	}
	a := &args{op: op, elems: map[string]*etree.Element{}}
	for _, c := range body.ChildElements() {
		if ns := c.NamespaceURI(); ns != NS && ns != "" {
			continue
		}
		if a.elems[c.Tag] != nil {
			return nil, argFault(fmt.Sprintf("element '%s' occurs more than once", c.Tag))
		}
		a.elems[c.Tag] = c
	}
	return a, nil
}

// text is the untrimmed text of a simple child, "" when absent or nil. A value that holds an
// element instead of text is an InvalidArgument fault, never taken for an absent value.
func (a *args) text(name string) (string, error) {
	return simpleText(a.elems[name], name)
}

func simpleText(e *etree.Element, name string) (string, error) {
	if e == nil || soap.IsNil(e) {
		return "", nil
	}
	s, err := soap.TextContent(e)
	if err != nil {
		return "", argFault(fmt.Sprintf("%s must be text: %v", name, err))
	}
	return s, nil
}

func (a *args) instanceID() (uuid.UUID, error) {
	s, err := a.text("instanceId")
	if err != nil {
		return uuid.Nil, err
	}
	id, err := protocol.ParseGUID(s)
	if err != nil {
		return uuid.Nil, argFault(fmt.Sprintf("instanceId %q is not a GUID: %v", s, err))
	}
	return id, nil
}

// target is the instance an operation names: by instanceId, or by correlationKey in its place
// (exactly one of them). A key no stored instance has is InstanceNotFound.
func (a *args) target(ctx context.Context, h Host) (uuid.UUID, error) {
	key, err := a.text("correlationKey")
	if err != nil {
		return uuid.Nil, err
	}
	_, hasID := a.elems["instanceId"]
	switch {
	case key != "" && hasID:
		return uuid.Nil, argFault("give instanceId or correlationKey, not both")
	case key != "":
		return h.FindByKey(ctx, key)
	case !hasID && a.elems["correlationKey"] != nil:
		return uuid.Nil, argFault("correlationKey is empty")
	}
	return a.instanceID()
}

func childText(e *etree.Element, name string) string {
	for _, c := range e.ChildElements() {
		if c.Tag == name && !soap.IsNil(c) {
			s, _ := soap.TextContent(c)
			return s
		}
	}
	return ""
}

// argText is the text of a request element's child element name (matched by local name, as
// childText), as args.text: one that holds an element, or occurs twice, is an InvalidArgument
// fault rather than an absent value or a silent choice.
func argText(e *etree.Element, name string) (string, error) {
	var found *etree.Element
	for _, c := range e.ChildElements() {
		if c.Tag != name {
			continue
		}
		if found != nil {
			return "", argFault(fmt.Sprintf("%s: element '%s' occurs more than once", e.Tag, name))
		}
		found = c
	}
	return simpleText(found, e.Tag+"/"+name)
}

func decodeJSON(s string) (any, error) {
	var v any
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("not valid JSON: %v", err)
	}
	if d.More() {
		return nil, errors.New("not valid JSON: trailing data")
	}
	return normalizeNumbers(v), nil
}

// normalizeNumbers turns json.Number into float64 (the engine's Number type).
func normalizeNumbers(v any) any {
	switch v := v.(type) {
	case json.Number:
		f, _ := v.Float64()
		return f
	case map[string]any:
		for k, x := range v {
			v[k] = normalizeNumbers(x)
		}
	case []any:
		for i, x := range v {
			v[i] = normalizeNumbers(x)
		}
	}
	return v
}

func response(op string) *etree.Element {
	e := etree.NewElement(op + "Response")
	e.CreateAttr("xmlns", NS)
	return e
}

func el(parent *etree.Element, name, text string) {
	parent.CreateElement(name).SetText(text)
}

func optEl(parent *etree.Element, name, text string) {
	if text != "" {
		el(parent, name, text)
	}
}

func argFault(reason string) *soap.Fault {
	return soap.NewFault(soap.Sender, reason, soap.QName{Space: NS, Local: FaultInvalidArgument})
}

// toFault maps host errors to this contract's faults: instance conditions as MS-WFIM's (so one
// client-side check serves both endpoints), the rest with this contract's subcodes. Anything
// else stays an internal error (logged by the soap endpoint, never shown).
func toFault(err error) error {
	if f, ok := protocol.InstanceFault(err); ok {
		return f
	}
	var he *host.Error
	if !errors.As(err, &he) {
		return err
	}
	for _, m := range []struct {
		kind    error
		subcode string
	}{
		{host.ErrDefinitionNotFound, FaultDefinitionNotFound},
		{host.ErrInvalidInput, FaultInvalidInput},
		{host.ErrExists, FaultInstanceExists},
		{host.ErrBookmarkNotFound, FaultBookmarkNotFound},
		{host.ErrInvalidQuery, FaultInvalidArgument},
		{host.ErrJobNotFound, FaultBulkOperationNotFound},
	} {
		if errors.Is(he.Kind, m.kind) {
			return soap.NewFault(soap.Sender, faultReason(he), soap.QName{Space: NS, Local: m.subcode})
		}
	}
	return err
}

// faultReason says what was refused and why, for people.
func faultReason(he *host.Error) string {
	s := he.Kind.Error()
	if he.Instance != uuid.Nil {
		s += fmt.Sprintf(": instance %s", he.Instance)
	}
	if he.Detail != "" {
		s += ": " + he.Detail
	}
	return s
}
