package hosting

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"
	"github.com/google/uuid"

	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/soap"
	"github.com/wimp-project/wimp/workflow"
)

// Group-by values of CountInstances' groupBy element (absent or empty: none).
const (
	GroupNone         = "none"
	GroupByState      = "state"
	GroupByDefinition = "definition"
	GroupByException  = "exception"
)

func queryInstances(ctx context.Context, h Host, a *args) (*etree.Element, error) {
	req, err := readQuery(a)
	if err != nil {
		return nil, err
	}
	res, err := h.Query(ctx, req)
	if err != nil {
		return nil, err
	}
	reply := response(a.op)
	for _, inst := range res.Instances {
		writeInstanceVars(reply.CreateElement("instance"), inst, req.IncludeVariables)
	}
	optEl(reply, "nextPageToken", res.NextPageToken)
	return reply, nil
}

func countInstances(ctx context.Context, h Host, a *args) (*etree.Element, error) {
	f, by, err := readCount(a)
	if err != nil {
		return nil, err
	}
	res, err := h.Count(ctx, f, by)
	if err != nil {
		return nil, err
	}
	reply := response(a.op)
	el(reply, "total", strconv.FormatInt(res.Total, 10))
	for _, g := range res.Groups {
		e := reply.CreateElement("group")
		switch by {
		case host.GroupByState:
			el(e, "state", string(g.State))
		case host.GroupByDefinition:
			writeIdentity(e.CreateElement("definition"), g.Definition)
		case host.GroupByException:
			el(e, "exception", g.Exception)
		}
		el(e, "count", strconv.FormatInt(g.N, 10))
	}
	return reply, nil
}

func getDefinitions(ctx context.Context, h Host, a *args) (*etree.Element, error) {
	defs, err := h.Definitions(ctx)
	if err != nil {
		return nil, err
	}
	reply := response(a.op)
	for _, d := range defs {
		e := reply.CreateElement("definition")
		writeIdentity(e, d.Identity)
		el(e, "source", d.Source)
		el(e, "location", d.Location)
		args := e.CreateElement("arguments")
		for _, arg := range d.Arguments {
			x := args.CreateElement("argument")
			el(x, "name", arg.Name)
			el(x, "type", arg.Type)
			el(x, "required", strconv.FormatBool(arg.Required))
			optEl(x, "default", arg.Default)
		}
		from := e.CreateElement("updatableFrom")
		for _, id := range d.UpdatableFrom {
			writeIdentity(from.CreateElement("identity"), id)
		}
	}
	return reply, nil
}

func writeIdentity(e *etree.Element, id workflow.Identity) {
	el(e, "name", id.Name)
	el(e, "package", id.Package)
	el(e, "version", id.Version)
}

// readQuery decodes QueryInstances' arguments: filter, pageSize, pageToken, includeVariables.
func readQuery(a *args) (host.QueryRequest, error) {
	var req host.QueryRequest
	var err error
	if req.Filter, err = readFilter(a.elems["filter"]); err != nil {
		return req, err
	}
	s, err := a.text("pageSize")
	if err != nil {
		return req, err
	}
	if s = strings.TrimSpace(s); s != "" {
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil || n < 0 {
			return req, argFault(fmt.Sprintf("pageSize %q is not an integer from 0 to %d (0: %d)", s, host.MaxPageSize, host.DefaultPageSize))
		}
		req.PageSize = int(n)
	}
	if s, err = a.text("pageToken"); err != nil {
		return req, err
	}
	req.PageToken = strings.TrimSpace(s)
	if s, err = a.text("includeVariables"); err != nil {
		return req, err
	}
	if req.IncludeVariables, err = parseBool("includeVariables", s); err != nil {
		return req, err
	}
	return req, nil
}

// readCount decodes CountInstances' arguments: filter and groupBy.
func readCount(a *args) (host.Filter, host.GroupBy, error) {
	f, err := readFilter(a.elems["filter"])
	if err != nil {
		return f, "", err
	}
	s, err := a.text("groupBy")
	if err != nil {
		return f, "", err
	}
	switch strings.TrimSpace(s) {
	case "", GroupNone:
		return f, host.GroupNone, nil
	case GroupByState:
		return f, host.GroupByState, nil
	case GroupByDefinition:
		return f, host.GroupByDefinition, nil
	case GroupByException:
		return f, host.GroupByException, nil
	}
	return f, "", argFault(fmt.Sprintf("groupBy %q is not none, state, definition or exception", s))
}

// readFilter decodes a filter element (nil: no filter). Its children are matched by local name
// (this contract's namespace or none), unknown ones ignored, one given twice refused. Text
// values are taken as sent; state, completion and versions are checked here so that the
// fault names the element.
func readFilter(e *etree.Element) (host.Filter, error) {
	var f host.Filter
	if e == nil || soap.IsNil(e) {
		return f, nil
	}
	seen := map[string]bool{}
	for _, c := range e.ChildElements() {
		if ns := c.NamespaceURI(); ns != NS && ns != "" {
			continue
		}
		if seen[c.Tag] {
			return f, argFault(fmt.Sprintf("filter: element '%s' occurs more than once", c.Tag))
		}
		seen[c.Tag] = true
		v, err := simpleText(c, "filter/"+c.Tag)
		if err != nil {
			return f, err
		}
		switch c.Tag {
		case "state":
			f.State = workflow.State(strings.TrimSpace(v))
			if f.State != "" && !f.State.Valid() {
				return f, argFault(fmt.Sprintf("filter/state %q is not Active, Suspended or Completed", v))
			}
		case "completion":
			f.Completion = workflow.Completion(strings.TrimSpace(v))
			switch f.Completion {
			case workflow.NotCompleted, workflow.Closed, workflow.Canceled, workflow.Terminated, workflow.Faulted:
			default:
				return f, argFault(fmt.Sprintf("filter/completion %q is not Closed, Canceled, Terminated or Faulted", v))
			}
		case "definition":
			f.Definition = v
		case "package":
			f.Package = v
		case "version", "versionMin", "versionMax":
			v = strings.TrimSpace(v)
			if v != "" {
				if _, err := workflow.ParseVersion(v); err != nil {
					return f, argFault(fmt.Sprintf("filter/%s: %v", c.Tag, err))
				}
			}
			switch c.Tag {
			case "version":
				f.Version = v
			case "versionMin":
				f.VersionMin = v
			default:
				f.VersionMax = v
			}
		case "exception":
			f.Exception = v
		case "reasonContains":
			f.ReasonContains = v
		case "bookmark":
			f.Bookmark = v
		case "correlationKey":
			f.CorrelationKey = v
		case "currentState":
			f.CurrentState = v
		case "parent":
			if v = strings.TrimSpace(v); v == "" {
				break
			}
			id, err := uuid.Parse(v)
			if err != nil {
				return f, argFault(fmt.Sprintf("filter/parent %q is not a GUID", v))
			}
			f.Parent = id
		case "hasParent":
			switch strings.TrimSpace(v) {
			case "", "false", "0":
				f.HasParent = false
			case "true", "1":
				f.HasParent = true
			default:
				return f, argFault(fmt.Sprintf("filter/hasParent %q is not an xs:boolean", v))
			}
		case "properties":
			if strings.TrimSpace(v) == "" {
				break
			}
			dec := json.NewDecoder(strings.NewReader(v))
			if err := dec.Decode(&f.Properties); err != nil || dec.More() {
				return f, argFault(fmt.Sprintf("filter/properties %q is not a JSON object of property names to text values", v))
			}
			for name := range f.Properties {
				if name == "" {
					return f, argFault("filter/properties: a property needs a name")
				}
			}
			if len(f.Properties) == 0 {
				f.Properties = nil // {} selects everything, as no properties
			}
		case "createdAfter", "createdBefore", "updatedAfter", "updatedBefore":
			t, err := parseDateTime("filter/"+c.Tag, v)
			if err != nil {
				return f, err
			}
			switch c.Tag {
			case "createdAfter":
				f.CreatedAfter = t
			case "createdBefore":
				f.CreatedBefore = t
			case "updatedAfter":
				f.UpdatedAfter = t
			default:
				f.UpdatedBefore = t
			}
		}
	}
	return f, nil
}

// parseDateTime reads an xs:dateTime (white space around it collapsed; "" is no bound). One
// without a time zone is taken as UTC.
func parseDateTime(name, s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, argFault(fmt.Sprintf("%s %q is not an xs:dateTime such as 2026-11-30T08:00:00Z", name, s))
}

// parseBool reads an xs:boolean: true, false, 1 or 0 ("" is false).
func parseBool(name, s string) (bool, error) {
	switch strings.TrimSpace(s) {
	case "", "false", "0":
		return false, nil
	case "true", "1":
		return true, nil
	}
	return false, argFault(fmt.Sprintf("%s %q is not true, false, 1 or 0", name, s))
}
