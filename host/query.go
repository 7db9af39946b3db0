package host

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/workflow"
)

// Filter selects instances for Query and Count. Every field is optional and they are ANDed;
// the semantics are store.Filter's (versions compare as System.Version values, time bounds are
// exclusive, ReasonContains is case sensitive). It has store.Filter's fields, so that one
// converts to the other.
// Its JSON form is a bulk job's filter (GetBulkOperation's job, `wimpctl bulk status -o json`).
type Filter struct {
	State      workflow.State      `json:"state,omitempty"`
	Completion workflow.Completion `json:"completion,omitempty"`
	Definition string              `json:"definition,omitempty"`
	Package    string              `json:"package,omitempty"`

	Version    string `json:"version,omitempty"`
	VersionMin string `json:"versionMin,omitempty"`
	VersionMax string `json:"versionMax,omitempty"`

	Exception      string `json:"exception,omitempty"`
	ReasonContains string `json:"reasonContains,omitempty"`
	Bookmark       string `json:"bookmark,omitempty"`

	CreatedAfter  time.Time `json:"createdAfter,omitzero"`
	CreatedBefore time.Time `json:"createdBefore,omitzero"`
	UpdatedAfter  time.Time `json:"updatedAfter,omitzero"`
	UpdatedBefore time.Time `json:"updatedBefore,omitzero"`

	CorrelationKey string            `json:"correlationKey,omitempty"`
	CurrentState   string            `json:"currentState,omitempty"`
	Properties     map[string]string `json:"properties,omitempty"`

	Parent    uuid.UUID `json:"parent,omitzero"` // uuid.Nil: any (omitempty would write the nil id)
	HasParent bool      `json:"hasParent,omitempty"`
}

// IsZero reports whether f selects every instance.
func (f Filter) IsZero() bool {
	g := f
	g.Properties = nil // an empty map selects everything too
	return reflect.ValueOf(g).IsZero()
}

// Page sizes of Query (store.DefaultPageSize, store.MaxPageSize).
const (
	DefaultPageSize = store.DefaultPageSize
	MaxPageSize     = store.MaxPageSize
)

// QueryRequest asks for one page of instances.
type QueryRequest struct {
	Filter Filter
	// PageSize: 0 for DefaultPageSize (100); more than MaxPageSize (1000) is MaxPageSize.
	PageSize int
	// PageToken: "" for the first page, else a QueryResult.NextPageToken.
	PageToken string
	// IncludeVariables: the instances' variables are read too (otherwise Variables is nil).
	IncludeVariables bool
}

// QueryResult is one page: the instances, ordered by Created then id, and the next page's
// token ("" after the last page). Paging is stable while instances come and go: an instance
// that exists and matches from the first page to the last is on exactly one page.
type QueryResult struct {
	Instances     []*Instance
	NextPageToken string
}

// GroupBy is how Count groups: "" (none), "state", "definition" (name, package and version)
// or "exception".
type GroupBy string

const (
	GroupNone         GroupBy = GroupBy(store.GroupNone)
	GroupByState      GroupBy = GroupBy(store.GroupByState)
	GroupByDefinition GroupBy = GroupBy(store.GroupByDefinition)
	GroupByException  GroupBy = GroupBy(store.GroupByException)
)

// Count is one group: its key (the field of the GroupBy) and its number of instances.
type Count struct {
	State      workflow.State
	Definition workflow.Identity
	Exception  string // "" for the instances without an exception
	N          int64
}

// CountResult is the total and its groups (none with GroupNone), in the order
// store.SortCounts gives; groups without instances are left out.
type CountResult struct {
	Total  int64
	Groups []Count
}

// Query returns a page of instances as last persisted, without their execution image, and
// without their variables unless asked. A filter that names an unknown state or completion or
// an invalid version, a negative page size or a malformed token is refused with
// ErrInvalidQuery.
func (h *Host) Query(ctx context.Context, req QueryRequest) (*QueryResult, error) {
	const op = "QueryInstances"
	if err := h.Authorize(ctx, op, Reader); err != nil {
		return nil, err
	}
	page, err := h.store.QueryInstances(ctx, store.PageQuery{Filter: store.Filter(req.Filter), Size: req.PageSize,
		Token: req.PageToken, Variables: req.IncludeVariables})
	if err != nil {
		return nil, h.queryError(op, err)
	}
	out := &QueryResult{Instances: make([]*Instance, len(page.Instances)), NextPageToken: page.Next}
	for i, r := range page.Instances {
		out.Instances[i] = view(r)
	}
	return out, nil
}

// Count counts the instances f selects, grouped by by.
func (h *Host) Count(ctx context.Context, f Filter, by GroupBy) (*CountResult, error) {
	const op = "CountInstances"
	if err := h.Authorize(ctx, op, Reader); err != nil {
		return nil, err
	}
	cs, err := h.store.CountInstances(ctx, store.Filter(f), store.GroupBy(by))
	if err != nil {
		return nil, h.queryError(op, err)
	}
	out := &CountResult{}
	for _, c := range cs {
		out.Total += c.N
		if by != GroupNone {
			out.Groups = append(out.Groups, Count{State: c.State, Definition: c.Definition, Exception: c.Exception, N: c.N})
		}
	}
	return out, nil
}

// queryError is an invalid query's refusal, or the store's failure.
func (h *Host) queryError(op string, err error) error {
	if errors.Is(err, store.ErrInvalidQuery) {
		return &Error{Kind: ErrInvalidQuery, Operation: op, Detail: strings.TrimPrefix(err.Error(), store.ErrInvalidQuery.Error()+": ")}
	}
	return h.unavailable(uuid.Nil, op, err)
}

// List lists instances as last persisted, oldest first: those in state ("" for all), at most
// limit (0: no limit). It follows Query's pages.
func (h *Host) List(ctx context.Context, state workflow.State, limit int) ([]*Instance, error) {
	const op = "ListInstances"
	if err := h.Authorize(ctx, op, Reader); err != nil {
		return nil, err
	}
	var out []*Instance
	q := store.PageQuery{Filter: store.Filter{State: state}, Variables: true}
	for {
		q.Size = MaxPageSize
		if limit > 0 {
			q.Size = min(q.Size, limit-len(out))
		}
		page, err := h.store.QueryInstances(ctx, q)
		if err != nil {
			return nil, h.queryError(op, err)
		}
		for _, r := range page.Instances {
			out = append(out, view(r))
		}
		if page.Next == "" || (limit > 0 && len(out) >= limit) {
			return out, nil
		}
		q.Token = page.Next
	}
}
