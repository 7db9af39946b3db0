package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/workflow"
)

// QueryInstances returns one page of the instances q.Filter selects, by (created, id),
// continued after the token's key. Every filter but an updated range has an index that ends
// in (created, id) (see migrations/0001_init.sql), so a page stops after its size wherever it
// is in the result.
func (s *Store) QueryInstances(ctx context.Context, q store.PageQuery) (store.Page, error) {
	if s.rclosed.Load() {
		return store.Page{}, store.ErrClosed
	}
	if err := q.Filter.Validate(); err != nil {
		return store.Page{}, err
	}
	size, err := store.PageSize(q.Size)
	if err != nil {
		return store.Page{}, err
	}
	var after *store.PageKey
	if q.Token != "" {
		k, err := store.DecodePageToken(q.Token)
		if err != nil {
			return store.Page{}, err
		}
		after = &k
	}
	query, args := pageSQL(q.Filter, after, size+1, q.Variables)
	out, err := collect(ctx, s, query, args, scanInstance)
	if err != nil {
		return store.Page{}, s.readErr(err)
	}
	var p store.Page
	if len(out) > size {
		out = out[:size]
		last := out[size-1]
		p.Next = store.EncodePageToken(store.PageKey{Created: last.Created, ID: last.ID})
	}
	p.Instances = out
	return p, nil
}

// CountInstances counts the instances f selects, grouped by by. A filter on state, completion,
// definition and exception only is answered from instance_counts (deltas per combination of
// those, kept by triggers and folded by the writer), whatever the number of instances; any
// other filter counts rows through the index a page with that filter reads.
func (s *Store) CountInstances(ctx context.Context, f store.Filter, by store.GroupBy) ([]store.Count, error) {
	if s.rclosed.Load() {
		return nil, store.ErrClosed
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	if !by.Valid() {
		return nil, fmt.Errorf("%w: group by %q (want state, definition, exception or none)", store.ErrInvalidQuery, by)
	}
	groups := map[store.Count]int64{}
	var err error
	if f.Summarizable() {
		err = s.query(ctx, summarySQL, nil, func(row pgx.Row) error {
			var in store.Instance
			var state, completion string
			var n int64
			if err := row.Scan(&state, &completion, &in.Definition.Name, &in.Definition.Package,
				&in.Definition.Version, &in.SuspensionException, &n); err != nil {
				return err
			}
			in.State, in.Completion = workflow.State(state), workflow.Completion(completion)
			if f.Matches(&in) {
				groups[store.GroupKey(&in, by)] += n
			}
			return nil
		})
	} else {
		query, args := countSQL(f, by)
		err = s.query(ctx, query, args, func(row pgx.Row) error {
			var k store.Count
			var n int64
			var dest []any
			switch by {
			case store.GroupByState:
				dest = []any{(*string)(&k.State)}
			case store.GroupByDefinition:
				dest = []any{&k.Definition.Name, &k.Definition.Package, &k.Definition.Version}
			case store.GroupByException:
				dest = []any{&k.Exception}
			}
			if err := row.Scan(append(dest, &n)...); err != nil {
				return err
			}
			groups[k] += n
			return nil
		})
	}
	if err != nil {
		return nil, s.readErr(err)
	}
	out := make([]store.Count, 0, len(groups))
	for k, n := range groups {
		if n > 0 {
			k.N = n
			out = append(out, k)
		}
	}
	if by == store.GroupNone && len(out) == 0 {
		out = append(out, store.Count{})
	}
	store.SortCounts(out)
	return out, nil
}

const summarySQL = `SELECT state, completion, definition_name, definition_package, definition_version, exception, SUM(n)::bigint
	FROM instance_counts
	GROUP BY state, completion, definition_name, definition_package, definition_version, exception
	HAVING SUM(n) <> 0`

// source is where a query reads instances from, and the columns its (created, id) key is read
// from there.
type source struct {
	from        string
	created, id string
}

// sourceFor reads a bookmark's instances from instance_bookmarks, in key order, and joins
// them by id; any other filter reads instances, through the index the planner picks for it.
func sourceFor(f store.Filter) source {
	if f.Bookmark != "" {
		return source{from: "instance_bookmarks AS b JOIN instances AS i ON i.id = b.instance_id",
			created: "b.created", id: "b.instance_id"}
	}
	return source{from: "instances AS i", created: "i.created", id: "i.id"}
}

// conditions is f as SQL terms over instances AS i (and instance_bookmarks AS b), with their
// arguments ($1 on), and for a page after a key, the key's term.
func conditions(f store.Filter, src source, after *store.PageKey) ([]string, []any) {
	var terms []string
	var args []any
	add := func(term string, a ...any) {
		for _, v := range a {
			args = append(args, v)
			term = strings.Replace(term, "?", fmt.Sprintf("$%d", len(args)), 1)
		}
		terms = append(terms, term)
	}
	if f.Bookmark != "" {
		add("b.bookmark = ?", f.Bookmark)
	}
	if f.State != "" {
		add("i.state = ?", string(f.State))
	}
	if f.Completion != "" {
		add("i.completion = ?", string(f.Completion))
	}
	if f.Definition != "" {
		add("i.definition_name = ?", f.Definition)
	}
	if f.Package != "" {
		add("i.definition_package = ?", f.Package)
	}
	// Keys of valid versions are never '', so = and >= exclude the versions that do not parse.
	if f.Version != "" {
		add("i.version_key = ?", store.VersionKey(f.Version))
	}
	if f.VersionMin != "" {
		add("i.version_key >= ?", store.VersionKey(f.VersionMin))
	}
	if f.VersionMax != "" {
		add("i.version_key <= ? AND i.version_key <> ''", store.VersionKey(f.VersionMax))
	}
	if f.Exception != "" {
		// The second term lets instances_exception (WHERE exception <> '') be used.
		add("i.exception = ? AND i.exception <> ''", f.Exception)
	}
	if f.ReasonContains != "" {
		add("strpos(i.suspension_reason, ?) > 0", f.ReasonContains)
	}
	// Stored times are whole milliseconds: t < x ⇔ t < ceil(x), t > x ⇔ t > floor(x).
	// Of a lower created bound and the key, only the one that implies the other is written, so
	// that it starts the index range.
	switch {
	case after != nil && (f.CreatedAfter.IsZero() || after.Created.After(floorMS(f.CreatedAfter))):
		add("("+src.created+", "+src.id+") > (?, ?)", after.Created, after.ID)
	case !f.CreatedAfter.IsZero():
		add(src.created+" > ?", floorMS(f.CreatedAfter))
	}
	if !f.CreatedBefore.IsZero() {
		add(src.created+" < ?", ceilMS(f.CreatedBefore))
	}
	if !f.UpdatedAfter.IsZero() {
		add("i.updated > ?", floorMS(f.UpdatedAfter))
	}
	if !f.UpdatedBefore.IsZero() {
		add("i.updated < ?", ceilMS(f.UpdatedBefore))
	}
	return terms, args
}

// pageColumns are instanceColumns of instances AS i, without the image (NULL, as a missing
// one) and, unless asked for, without the variables.
func pageColumns(variables bool) string {
	v := "NULL::bytea"
	if variables {
		v = "i.variables"
	}
	return `i.id, i.definition_name, i.definition_package, i.definition_version, i.state, i.completion,
	i.suspension_reason, i.suspension_exception, i.completion_reason, i.completion_exception, i.blocking_bookmarks,
	i.pending_timer, i.execution_status, i.failures, NULL::bytea, ` + v + `, i.version, i.lease_owner, i.lease_token,
	i.created, i.updated`
}

// pageSQL selects up to limit instances f selects after key (nil: from the start), in order.
func pageSQL(f store.Filter, after *store.PageKey, limit int, variables bool) (string, []any) {
	src := sourceFor(f)
	terms, args := conditions(f, src, after)
	args = append(args, int64(limit))
	q := "SELECT " + pageColumns(variables) + " FROM " + src.from + where(terms) +
		" ORDER BY " + src.created + ", " + src.id + fmt.Sprintf(" LIMIT $%d", len(args))
	return q, args
}

// countSQL counts the instances f selects by the group's columns.
func countSQL(f store.Filter, by store.GroupBy) (string, []any) {
	src := sourceFor(f)
	terms, args := conditions(f, src, nil)
	var cols string
	switch by {
	case store.GroupByState:
		cols = "i.state"
	case store.GroupByDefinition:
		cols = "i.definition_name, i.definition_package, i.definition_version"
	case store.GroupByException:
		cols = "i.exception"
	}
	if cols == "" {
		return "SELECT COUNT(*) FROM " + src.from + where(terms), args
	}
	return "SELECT " + cols + ", COUNT(*) FROM " + src.from + where(terms) + " GROUP BY " + cols, args
}

func where(terms []string) string {
	if len(terms) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(terms, " AND ")
}
