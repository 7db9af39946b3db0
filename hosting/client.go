package hosting

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"
	"github.com/google/uuid"

	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/soap"
	"github.com/wimp-project/wimp/workflow"
)

// Client calls a hosting endpoint.
type Client struct {
	SOAP *soap.Client
}

// NewClient returns a client for the hosting endpoint at url (SOAP 1.1).
func NewClient(url string) *Client {
	return &Client{SOAP: &soap.Client{URL: url, Version: soap.V11}}
}

func (c *Client) call(ctx context.Context, op string, build func(*etree.Element)) (*etree.Element, error) {
	body := etree.NewElement(op)
	body.CreateAttr("xmlns", NS)
	if build != nil {
		build(body)
	}
	return c.SOAP.Call(ctx, Action(op), body)
}

// Create creates an instance and returns its id (req.ID set: CreateWithInstanceId;
// req.CorrelationKey set: CreateWithCorrelationKey).
func (c *Client) Create(ctx context.Context, req host.CreateRequest) (uuid.UUID, error) {
	op := OpCreate
	switch {
	case req.ID != uuid.Nil && req.CorrelationKey != "":
		return uuid.Nil, fmt.Errorf("hosting: no operation creates an instance with both an id and a correlation key")
	case req.ID != uuid.Nil:
		op = OpCreateWithInstanceID
	case req.CorrelationKey != "":
		op = OpCreateWithCorrelationKey
	}
	var encErr error
	reply, err := c.call(ctx, op, func(b *etree.Element) {
		if req.ID != uuid.Nil {
			el(b, "instanceId", req.ID.String())
		}
		optEl(b, "correlationKey", req.CorrelationKey)
		el(b, "definition", req.Definition)
		optEl(b, "version", req.Version)
		if len(req.Inputs) == 0 {
			return
		}
		names := make([]string, 0, len(req.Inputs))
		for k := range req.Inputs {
			names = append(names, k)
		}
		sort.Strings(names)
		inputs := b.CreateElement("inputs")
		for _, k := range names {
			v, err := json.Marshal(req.Inputs[k])
			if err != nil {
				encErr = fmt.Errorf("input %q: %w", k, err)
			}
			in := inputs.CreateElement("input")
			el(in, "name", k)
			el(in, "value", string(v))
		}
	})
	if encErr != nil {
		return uuid.Nil, encErr
	}
	if err != nil {
		return uuid.Nil, err
	}
	if req.ID != uuid.Nil {
		return req.ID, nil
	}
	return uuid.Parse(childText(reply, "instanceId"))
}

// ResumeBookmark resumes a bookmark with a JSON payload ("" for none).
func (c *Client) ResumeBookmark(ctx context.Context, id uuid.UUID, bookmark, payloadJSON string) error {
	return c.ResumeBookmarkByRef(ctx, Ref{ID: id}, bookmark, payloadJSON)
}

// Ref names an instance by its id or, when Key is set, by its correlation key.
type Ref struct {
	ID  uuid.UUID
	Key string
}

func (r Ref) write(b *etree.Element) {
	if r.Key != "" {
		el(b, "correlationKey", r.Key)
		return
	}
	el(b, "instanceId", r.ID.String())
}

// GetInstanceByRef reads the instance r names.
func (c *Client) GetInstanceByRef(ctx context.Context, r Ref) (*Instance, error) {
	return c.getInstance(ctx, r.write)
}

// AwaitInstance reads the instance r names once it has completed, or after wait (whole
// seconds, at most host.MaxAwait) as it then is.
func (c *Client) AwaitInstance(ctx context.Context, r Ref, wait time.Duration) (*Instance, error) {
	return c.getInstance(ctx, func(b *etree.Element) {
		r.write(b)
		el(b, "waitSeconds", strconv.Itoa(int(wait/time.Second)))
	})
}

func (c *Client) getInstance(ctx context.Context, write func(*etree.Element)) (*Instance, error) {
	reply, err := c.call(ctx, OpGetInstance, write)
	if err != nil {
		return nil, err
	}
	e := reply.FindElement("instance")
	if e == nil {
		return nil, fmt.Errorf("GetInstanceResponse has no instance")
	}
	return readInstance(e)
}

// ResumeBookmarkByRef resumes a bookmark of the instance r names with a JSON payload ("" for none).
func (c *Client) ResumeBookmarkByRef(ctx context.Context, r Ref, bookmark, payloadJSON string) error {
	_, err := c.call(ctx, OpResumeBookmark, func(b *etree.Element) {
		r.write(b)
		el(b, "bookmark", bookmark)
		optEl(b, "payload", payloadJSON)
	})
	return err
}

// GetInstance reads one instance.
func (c *Client) GetInstance(ctx context.Context, id uuid.UUID) (*Instance, error) {
	return c.GetInstanceByRef(ctx, Ref{ID: id})
}

// ListInstances lists instances, optionally in one state.
func (c *Client) ListInstances(ctx context.Context, state string, limit int) ([]*Instance, error) {
	reply, err := c.call(ctx, OpListInstances, func(b *etree.Element) {
		optEl(b, "state", state)
		if limit > 0 {
			el(b, "limit", strconv.Itoa(limit))
		}
	})
	if err != nil {
		return nil, err
	}
	var out []*Instance
	for _, e := range reply.SelectElements("instance") {
		inst, err := readInstance(e)
		if err != nil {
			return nil, err
		}
		out = append(out, inst)
	}
	return out, nil
}

// TrackingRecords reads an instance's tracking records with seq > after.
func (c *Client) TrackingRecords(ctx context.Context, id uuid.UUID, after int64) ([]Record, error) {
	return c.TrackingRecordsByRef(ctx, Ref{ID: id}, after)
}

// TrackingRecordsByRef reads the tracking records with Seq > after of the instance r names.
func (c *Client) TrackingRecordsByRef(ctx context.Context, r Ref, after int64) ([]Record, error) {
	reply, err := c.call(ctx, OpGetTrackingRecords, func(b *etree.Element) {
		r.write(b)
		if after > 0 {
			el(b, "after", strconv.FormatInt(after, 10))
		}
	})
	if err != nil {
		return nil, err
	}
	var out []Record
	for _, e := range reply.SelectElements("record") {
		seq, err := strconv.ParseInt(childText(e, "seq"), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("record seq: %w", err)
		}
		t, err := time.Parse(time.RFC3339Nano, childText(e, "time"))
		if err != nil {
			return nil, fmt.Errorf("record time: %w", err)
		}
		out = append(out, Record{Seq: seq, Time: t, Kind: childText(e, "kind"), Name: childText(e, "name"),
			Activity: childText(e, "activity"), Reason: childText(e, "reason"),
			Principal: childText(e, "principal"), Data: childText(e, "data")})
	}
	return out, nil
}

func readInstance(e *etree.Element) (*Instance, error) {
	inst := &Instance{
		ID:                  childText(e, "id"),
		State:               workflow.State(childText(e, "state")),
		Completion:          childText(e, "completion"),
		CompletionReason:    childText(e, "completionReason"),
		CompletionException: childText(e, "completionException"),
		SuspensionReason:    childText(e, "suspensionReason"),
		SuspensionException: childText(e, "suspensionException"),
		Bookmarks:           []string{},
		ExecutionStatus:     childText(e, "executionStatus"),
		CurrentState:        childText(e, "currentState"),
		CorrelationKey:      childText(e, "correlationKey"),
		Parent:              childText(e, "parent"),
	}
	if p := childText(e, "properties"); p != "" {
		if err := json.Unmarshal([]byte(p), &inst.Properties); err != nil {
			return nil, fmt.Errorf("instance properties %q: %w", p, err)
		}
	}
	if d := e.SelectElement("definition"); d != nil {
		inst.Definition = workflow.Identity{Name: childText(d, "name"), Package: childText(d, "package"), Version: childText(d, "version")}
	}
	if b := e.SelectElement("bookmarks"); b != nil {
		for _, x := range b.SelectElements("bookmark") {
			inst.Bookmarks = append(inst.Bookmarks, x.Text())
		}
	}
	if e.SelectElement("variables") != nil { // left out by QueryInstances unless asked for
		inst.Variables = map[string]any{}
		if v := strings.TrimSpace(childText(e, "variables")); v != "" {
			if err := json.Unmarshal([]byte(v), &inst.Variables); err != nil {
				return nil, fmt.Errorf("instance variables: %w", err)
			}
		}
	}
	var err error
	parse := func(name string) time.Time {
		s := childText(e, name)
		if s == "" || err != nil {
			return time.Time{}
		}
		t, perr := time.Parse(time.RFC3339Nano, s)
		if perr != nil {
			err = fmt.Errorf("instance %s: %w", name, perr)
		}
		return t
	}
	inst.Created, inst.Updated = parse("created"), parse("updated")
	if t := parse("pendingTimer"); !t.IsZero() {
		inst.PendingTimer = &t
	}
	return inst, err
}

// QueryInstances reads one page of the instances req.Filter selects.
func (c *Client) QueryInstances(ctx context.Context, req host.QueryRequest) (*Page, error) {
	reply, err := c.call(ctx, OpQueryInstances, func(b *etree.Element) {
		writeFilter(b, req.Filter)
		if req.PageSize != 0 {
			el(b, "pageSize", strconv.Itoa(req.PageSize))
		}
		optEl(b, "pageToken", req.PageToken)
		if req.IncludeVariables {
			el(b, "includeVariables", "true")
		}
	})
	if err != nil {
		return nil, err
	}
	p := &Page{Instances: []*Instance{}, NextPageToken: childText(reply, "nextPageToken")}
	for _, e := range reply.SelectElements("instance") {
		inst, err := readInstance(e)
		if err != nil {
			return nil, err
		}
		p.Instances = append(p.Instances, inst)
	}
	return p, nil
}

// CountInstances counts the instances f selects, grouped by by.
func (c *Client) CountInstances(ctx context.Context, f host.Filter, by host.GroupBy) (*Counts, error) {
	reply, err := c.call(ctx, OpCountInstances, func(b *etree.Element) {
		writeFilter(b, f)
		if by != host.GroupNone {
			el(b, "groupBy", string(by))
		}
	})
	if err != nil {
		return nil, err
	}
	total, err := strconv.ParseInt(strings.TrimSpace(childText(reply, "total")), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("CountInstancesResponse total: %w", err)
	}
	out := &Counts{Total: total}
	for _, g := range reply.SelectElements("group") {
		n, err := strconv.ParseInt(strings.TrimSpace(childText(g, "count")), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("CountInstancesResponse group count: %w", err)
		}
		cnt := Count{State: workflow.State(childText(g, "state")), Count: n}
		if d := g.SelectElement("definition"); d != nil {
			id := readIdentity(d)
			cnt.Definition = &id
		}
		if x := g.SelectElement("exception"); x != nil {
			s := childText(g, "exception")
			cnt.Exception = &s
		}
		out.Groups = append(out.Groups, cnt)
	}
	return out, nil
}

// Definitions lists the server's registered definitions.
func (c *Client) Definitions(ctx context.Context) ([]Definition, error) {
	reply, err := c.call(ctx, OpGetDefinitions, nil)
	if err != nil {
		return nil, err
	}
	out := []Definition{}
	for _, e := range reply.SelectElements("definition") {
		d := Definition{Identity: readIdentity(e), Source: childText(e, "source"), Location: childText(e, "location"),
			Arguments: []Argument{}, UpdatableFrom: []workflow.Identity{}}
		if args := e.SelectElement("arguments"); args != nil {
			for _, a := range args.SelectElements("argument") {
				req, err := strconv.ParseBool(strings.TrimSpace(childText(a, "required")))
				if err != nil {
					return nil, fmt.Errorf("GetDefinitionsResponse argument required: %w", err)
				}
				d.Arguments = append(d.Arguments, Argument{Name: childText(a, "name"), Type: childText(a, "type"),
					Required: req, Default: childText(a, "default")})
			}
		}
		if from := e.SelectElement("updatableFrom"); from != nil {
			for _, id := range from.SelectElements("identity") {
				d.UpdatableFrom = append(d.UpdatableFrom, readIdentity(id))
			}
		}
		out = append(out, d)
	}
	return out, nil
}

func readIdentity(e *etree.Element) workflow.Identity {
	return workflow.Identity{Name: childText(e, "name"), Package: childText(e, "package"), Version: childText(e, "version")}
}

// writeFilter writes f's set fields as a filter element (none when f selects everything).
func writeFilter(b *etree.Element, f host.Filter) {
	if f.IsZero() {
		return
	}
	e := b.CreateElement("filter")
	optEl(e, "state", string(f.State))
	optEl(e, "completion", string(f.Completion))
	optEl(e, "definition", f.Definition)
	optEl(e, "package", f.Package)
	optEl(e, "version", f.Version)
	optEl(e, "versionMin", f.VersionMin)
	optEl(e, "versionMax", f.VersionMax)
	optEl(e, "exception", f.Exception)
	optEl(e, "reasonContains", f.ReasonContains)
	optEl(e, "bookmark", f.Bookmark)
	for _, t := range []struct {
		name string
		t    time.Time
	}{{"createdAfter", f.CreatedAfter}, {"createdBefore", f.CreatedBefore}, {"updatedAfter", f.UpdatedAfter}, {"updatedBefore", f.UpdatedBefore}} {
		if !t.t.IsZero() {
			el(e, t.name, t.t.UTC().Format(time.RFC3339Nano))
		}
	}
	optEl(e, "correlationKey", f.CorrelationKey)
	optEl(e, "currentState", f.CurrentState)
	if len(f.Properties) > 0 {
		p, _ := json.Marshal(f.Properties) // a map of strings always encodes
		el(e, "properties", string(p))
	}
	if f.Parent != uuid.Nil {
		el(e, "parent", f.Parent.String())
	}
	if f.HasParent {
		el(e, "hasParent", "true")
	}
}

// StartBulkOperation starts a bulk job applying req.Operation to every instance req.Filter
// selects and returns it as started (Running; see GetBulkOperation for its progress).
func (c *Client) StartBulkOperation(ctx context.Context, req host.BulkRequest) (*BulkOperation, error) {
	reply, err := c.call(ctx, OpStartBulkOperation, func(b *etree.Element) { writeBulkRequest(b, req) })
	if err != nil {
		return nil, err
	}
	return replyJob(OpStartBulkOperation, reply)
}

// GetBulkOperation reads a bulk job and up to limit of its per-instance results with seq >
// after (limit 0: the job only; the server returns at most MaxItemsLimit). Page on with
// after = the returned NextItemsAfter.
func (c *Client) GetBulkOperation(ctx context.Context, id uuid.UUID, after int64, limit int) (*BulkPage, error) {
	reply, err := c.call(ctx, OpGetBulkOperation, func(b *etree.Element) {
		el(b, "jobId", id.String())
		if after != 0 {
			el(b, "itemsAfter", strconv.FormatInt(after, 10))
		}
		el(b, "itemsLimit", strconv.Itoa(limit))
	})
	if err != nil {
		return nil, err
	}
	j, err := replyJob(OpGetBulkOperation, reply)
	if err != nil {
		return nil, err
	}
	p := &BulkPage{Job: j, Items: []BulkItem{}}
	for _, e := range reply.SelectElements("item") {
		it, err := readBulkItem(e)
		if err != nil {
			return nil, err
		}
		p.Items = append(p.Items, it)
	}
	if p.NextItemsAfter, err = parseLong(reply, "nextItemsAfter", OpGetBulkOperation+"Response"); err != nil {
		return nil, err
	}
	return p, nil
}

// CancelBulkOperation stops a running bulk job where it is and returns it (an ended job
// as it is).
func (c *Client) CancelBulkOperation(ctx context.Context, id uuid.UUID) (*BulkOperation, error) {
	reply, err := c.call(ctx, OpCancelBulkOperation, func(b *etree.Element) { el(b, "jobId", id.String()) })
	if err != nil {
		return nil, err
	}
	return replyJob(OpCancelBulkOperation, reply)
}

// Purge deletes the Completed instances f selects (dryRun: counts them) and reports how many,
// and how many live instances f selected, which are never purged.
func (c *Client) Purge(ctx context.Context, f host.Filter, dryRun bool) (*PurgeResult, error) {
	reply, err := c.call(ctx, OpPurge, func(b *etree.Element) { writePurge(b, f, dryRun) })
	if err != nil {
		return nil, err
	}
	var res PurgeResult
	if res.Purged, err = parseLong(reply, "purged", "PurgeResponse"); err != nil {
		return nil, err
	}
	if res.Live, err = parseLong(reply, "live", "PurgeResponse"); err != nil {
		return nil, err
	}
	return &res, nil
}

// writePurge writes Purge's arguments.
func writePurge(b *etree.Element, f host.Filter, dryRun bool) {
	writeFilter(b, f)
	if dryRun {
		el(b, "dryRun", "true")
	}
}

// writeBulkRequest writes StartBulkOperation's arguments, in the schema's order.
func writeBulkRequest(b *etree.Element, req host.BulkRequest) {
	el(b, "operation", req.Operation)
	writeFilter(b, req.Filter)
	optEl(b, "reason", req.Reason)
	if req.Identity != nil {
		writeIdentity(b.CreateElement("identity"), *req.Identity)
	}
	if req.DryRun {
		el(b, "dryRun", "true")
	}
	if req.RatePerSecond != 0 {
		el(b, "ratePerSecond", strconv.FormatFloat(req.RatePerSecond, 'g', -1, 64))
	}
	if req.MaxInstances != 0 {
		el(b, "maxInstances", strconv.FormatInt(req.MaxInstances, 10))
	}
}

func replyJob(op string, reply *etree.Element) (*BulkOperation, error) {
	e := reply.SelectElement("job")
	if e == nil {
		return nil, fmt.Errorf("%sResponse has no job", op)
	}
	return readJob(e)
}

// readJob reads a BulkOperation element.
func readJob(e *etree.Element) (*BulkOperation, error) {
	j := &BulkOperation{Operation: childText(e, "operation"), Reason: childText(e, "reason"),
		Principal: childText(e, "principal"), Status: childText(e, "status"), Error: childText(e, "error"),
		Faults: map[string]int64{}}
	var err error
	if j.ID, err = uuid.Parse(strings.TrimSpace(childText(e, "id"))); err != nil {
		return nil, fmt.Errorf("job id: %w", err)
	}
	if f := e.SelectElement("filter"); f != nil {
		if j.Filter, err = readFilter(f); err != nil {
			return nil, fmt.Errorf("job filter: %w", err)
		}
	}
	if id := e.SelectElement("identity"); id != nil {
		x := readIdentity(id)
		j.Identity = &x
	}
	if j.DryRun, err = strconv.ParseBool(strings.TrimSpace(childText(e, "dryRun"))); err != nil {
		return nil, fmt.Errorf("job dryRun: %w", err)
	}
	if j.RatePerSecond, err = strconv.ParseFloat(strings.TrimSpace(childText(e, "ratePerSecond")), 64); err != nil {
		return nil, fmt.Errorf("job ratePerSecond: %w", err)
	}
	for _, n := range []struct {
		name string
		v    *int64
	}{{"maxInstances", &j.MaxInstances}, {"estimate", &j.Estimate}, {"matched", &j.Matched}, {"done", &j.Done}, {"ok", &j.OK}} {
		if *n.v, err = parseLong(e, n.name, "job"); err != nil {
			return nil, err
		}
	}
	if fs := e.SelectElement("faults"); fs != nil {
		for _, f := range fs.SelectElements("fault") {
			n, err := parseLong(f, "count", "job fault")
			if err != nil {
				return nil, err
			}
			j.Faults[childText(f, "outcome")] = n
		}
	}
	if j.Created, err = time.Parse(time.RFC3339Nano, strings.TrimSpace(childText(e, "created"))); err != nil {
		return nil, fmt.Errorf("job created: %w", err)
	}
	if j.Updated, err = time.Parse(time.RFC3339Nano, strings.TrimSpace(childText(e, "updated"))); err != nil {
		return nil, fmt.Errorf("job updated: %w", err)
	}
	return j, nil
}

func readBulkItem(e *etree.Element) (BulkItem, error) {
	it := BulkItem{Outcome: childText(e, "outcome"), Detail: childText(e, "detail")}
	var err error
	if it.Seq, err = parseLong(e, "seq", "item"); err != nil {
		return it, err
	}
	if it.Instance, err = uuid.Parse(strings.TrimSpace(childText(e, "instanceId"))); err != nil {
		return it, fmt.Errorf("item instanceId: %w", err)
	}
	if it.Time, err = time.Parse(time.RFC3339Nano, strings.TrimSpace(childText(e, "time"))); err != nil {
		return it, fmt.Errorf("item time: %w", err)
	}
	return it, nil
}

// parseLong reads e's child name as an xs:long; what names e in the error.
func parseLong(e *etree.Element, name, what string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(childText(e, name)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", what, name, err)
	}
	return n, nil
}
