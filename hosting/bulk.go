package hosting

import (
	"context"
	"fmt"
	"math"
	"sort"
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

// DefaultItemsLimit is how many per-instance results GetBulkOperation returns when itemsLimit
// is absent; MaxItemsLimit bounds a larger itemsLimit (as QueryInstances' pageSize).
const (
	DefaultItemsLimit = host.DefaultPageSize
	MaxItemsLimit     = host.MaxPageSize
)

func startBulkOperation(ctx context.Context, h Host, a *args) (*etree.Element, error) {
	req, err := readBulkRequest(a)
	if err != nil {
		return nil, err
	}
	j, err := h.StartBulk(ctx, req)
	if err != nil {
		return nil, err
	}
	reply := response(a.op)
	writeJob(reply.CreateElement("job"), j)
	return reply, nil
}

func getBulkOperation(ctx context.Context, h Host, a *args) (*etree.Element, error) {
	id, after, limit, err := readGetBulk(a)
	if err != nil {
		return nil, err
	}
	j, items, err := h.GetBulk(ctx, id, after, limit)
	if err != nil {
		return nil, err
	}
	reply := response(a.op)
	writeJob(reply.CreateElement("job"), j)
	next := after
	for _, it := range items {
		e := reply.CreateElement("item")
		el(e, "seq", strconv.FormatInt(it.Seq, 10))
		el(e, "instanceId", it.Instance.String())
		el(e, "outcome", it.Outcome)
		optEl(e, "detail", it.Detail)
		el(e, "time", it.Time.UTC().Format(time.RFC3339Nano))
		next = it.Seq
	}
	el(reply, "nextItemsAfter", strconv.FormatInt(next, 10))
	return reply, nil
}

func cancelBulkOperation(ctx context.Context, h Host, a *args) (*etree.Element, error) {
	id, err := a.jobID()
	if err != nil {
		return nil, err
	}
	j, err := h.CancelBulk(ctx, id)
	if err != nil {
		return nil, err
	}
	reply := response(a.op)
	writeJob(reply.CreateElement("job"), j)
	return reply, nil
}

func purge(ctx context.Context, h Host, a *args) (*etree.Element, error) {
	f, dryRun, err := readPurge(a)
	if err != nil {
		return nil, err
	}
	res, err := h.Purge(ctx, f, dryRun)
	if err != nil {
		return nil, err
	}
	reply := response(a.op)
	el(reply, "purged", strconv.FormatInt(res.Purged, 10))
	el(reply, "live", strconv.FormatInt(res.Live, 10))
	return reply, nil
}

// readBulkRequest decodes StartBulkOperation's arguments: operation, filter (QueryInstances'),
// reason, identity, dryRun, ratePerSecond, maxInstances. Whether the operation is one a bulk
// job can apply, and whether it needs an identity, the host decides (InvalidInput).
func readBulkRequest(a *args) (host.BulkRequest, error) {
	var req host.BulkRequest
	s, err := a.text("operation")
	if err != nil {
		return req, err
	}
	if req.Operation = strings.TrimSpace(s); req.Operation == "" {
		return req, argFault("operation is required: Suspend, Unsuspend, Run, Cancel, Terminate, Abandon or Update")
	}
	if req.Filter, err = readFilter(a.elems["filter"]); err != nil {
		return req, err
	}
	if req.Reason, err = a.text("reason"); err != nil {
		return req, err
	}
	if e := a.elems["identity"]; e != nil && !soap.IsNil(e) {
		var id workflow.Identity
		for _, f := range []struct {
			name string
			v    *string
		}{{"name", &id.Name}, {"package", &id.Package}, {"version", &id.Version}} {
			if *f.v, err = argText(e, f.name); err != nil {
				return req, err
			}
		}
		req.Identity = &id
	}
	if s, err = a.text("dryRun"); err != nil {
		return req, err
	}
	if req.DryRun, err = parseBool("dryRun", s); err != nil {
		return req, err
	}
	if s, err = a.text("ratePerSecond"); err != nil {
		return req, err
	}
	if s = strings.TrimSpace(s); s != "" {
		r, err := strconv.ParseFloat(s, 64)
		if err != nil || r < 0 || math.IsInf(r, 0) || math.IsNaN(r) || !isXSDecimal(s) {
			return req, argFault(fmt.Sprintf("ratePerSecond %q is not a number of 0 or more (0: %d per second)", s, host.DefaultBulkRate))
		}
		req.RatePerSecond = r
	}
	if s, err = a.text("maxInstances"); err != nil {
		return req, err
	}
	if s = strings.TrimSpace(s); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return req, argFault(fmt.Sprintf("maxInstances %q is not an integer of 0 or more (0: no limit)", s))
		}
		req.MaxInstances = n
	}
	return req, nil
}

// isXSDecimal reports whether s is written as an xs:double's finite lexical form allows: digits
// with an optional sign, point and exponent (strconv.ParseFloat also takes hexadecimal,
// underscores, "Inf" and "NaN").
func isXSDecimal(s string) bool {
	digits, point, exp := false, false, false
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits = true
		case r == '+' || r == '-':
			if i != 0 && s[i-1] != 'e' && s[i-1] != 'E' {
				return false
			}
		case r == '.' && !point && !exp:
			point = true
		case (r == 'e' || r == 'E') && digits && !exp:
			exp, digits = true, false
		default:
			return false
		}
	}
	return digits
}

// readGetBulk decodes GetBulkOperation's arguments: jobId, itemsAfter (default 0: from the
// first), itemsLimit (absent: DefaultItemsLimit; 0: none; more than MaxItemsLimit is that).
func readGetBulk(a *args) (id uuid.UUID, after int64, limit int, err error) {
	if id, err = a.jobID(); err != nil {
		return
	}
	s, err := a.text("itemsAfter")
	if err != nil {
		return
	}
	if s = strings.TrimSpace(s); s != "" {
		if after, err = strconv.ParseInt(s, 10, 64); err != nil || after < 0 {
			return id, 0, 0, argFault(fmt.Sprintf("itemsAfter %q is not an integer of 0 or more", s))
		}
	}
	limit = DefaultItemsLimit
	if s, err = a.text("itemsLimit"); err != nil {
		return
	}
	if s = strings.TrimSpace(s); s != "" {
		n, perr := strconv.ParseInt(s, 10, 32)
		if perr != nil || n < 0 {
			return id, 0, 0, argFault(fmt.Sprintf("itemsLimit %q is not an integer from 0 to %d (absent: %d)", s, MaxItemsLimit, DefaultItemsLimit))
		}
		limit = int(min(n, MaxItemsLimit))
	}
	return id, after, limit, nil
}

// readPurge decodes Purge's arguments: filter (QueryInstances') and dryRun.
func readPurge(a *args) (host.Filter, bool, error) {
	f, err := readFilter(a.elems["filter"])
	if err != nil {
		return f, false, err
	}
	s, err := a.text("dryRun")
	if err != nil {
		return f, false, err
	}
	dry, err := parseBool("dryRun", s)
	return f, dry, err
}

func (a *args) jobID() (uuid.UUID, error) {
	s, err := a.text("jobId")
	if err != nil {
		return uuid.Nil, err
	}
	id, err := protocol.ParseGUID(s)
	if err != nil {
		return uuid.Nil, argFault(fmt.Sprintf("jobId %q is not a GUID: %v", s, err))
	}
	return id, nil
}

// writeJob writes a job in the schema's BulkOperation order.
func writeJob(e *etree.Element, j *host.BulkJob) {
	el(e, "id", j.ID.String())
	el(e, "operation", j.Request.Operation)
	writeFilter(e, j.Request.Filter)
	optEl(e, "reason", j.Request.Reason)
	if j.Request.Identity != nil {
		writeIdentity(e.CreateElement("identity"), *j.Request.Identity)
	}
	el(e, "dryRun", strconv.FormatBool(j.Request.DryRun))
	el(e, "ratePerSecond", strconv.FormatFloat(j.Request.RatePerSecond, 'g', -1, 64))
	el(e, "maxInstances", strconv.FormatInt(j.Request.MaxInstances, 10))
	el(e, "principal", j.Principal)
	el(e, "status", j.Status)
	optEl(e, "error", j.Error)
	for _, n := range []struct {
		name string
		v    int64
	}{{"estimate", j.Estimate}, {"matched", j.Matched}, {"done", j.Done}, {"ok", j.OK}} {
		el(e, n.name, strconv.FormatInt(n.v, 10))
	}
	faults := e.CreateElement("faults")
	outcomes := make([]string, 0, len(j.Faults))
	for k := range j.Faults {
		outcomes = append(outcomes, k)
	}
	sort.Strings(outcomes)
	for _, k := range outcomes {
		f := faults.CreateElement("fault")
		el(f, "outcome", k)
		el(f, "count", strconv.FormatInt(j.Faults[k], 10))
	}
	el(e, "created", j.Created.UTC().Format(time.RFC3339Nano))
	el(e, "updated", j.Updated.UTC().Format(time.RFC3339Nano))
}
