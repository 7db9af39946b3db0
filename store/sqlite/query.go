package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/workflow"
)

// QueryInstances returns one page of the instances q.Filter selects, by (created, id), read
// from the index its filter names (see source) and continued after the token's key: a page
// costs the same wherever it is in the result.
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
	var out []*store.Instance
	err = retry(ctx, func() error {
		out = out[:0]
		return s.query(ctx, query, args, func(rows *sql.Rows) error {
			in, err := scanInstance(rows)
			if err == nil {
				out = append(out, in)
			}
			return err
		})
	})
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
// definition and exception only is answered from instance_counts (a row per combination of
// those, kept by triggers), whatever the number of instances; any other filter counts rows
// through the same index a page with that filter reads.
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
		err = retry(ctx, func() error {
			clear(groups)
			return s.query(ctx, summarySQL, nil, func(rows *sql.Rows) error {
				var in store.Instance
				var state, completion string
				var n int64
				if err := rows.Scan(&state, &completion, &in.Definition.Name, &in.Definition.Package,
					&in.Definition.Version, &in.SuspensionException, &n); err != nil {
					return err
				}
				in.State, in.Completion = workflow.State(state), workflow.Completion(completion)
				if f.Matches(&in) {
					groups[store.GroupKey(&in, by)] += n
				}
				return nil
			})
		})
	} else {
		query, args := countSQL(f, by)
		err = retry(ctx, func() error {
			clear(groups)
			return s.query(ctx, query, args, func(rows *sql.Rows) error {
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
				if err := rows.Scan(append(dest, &n)...); err != nil {
					return err
				}
				groups[k] += n
				return nil
			})
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

const summarySQL = `SELECT state, completion, definition_name, definition_package, definition_version, exception, n
	FROM instance_counts WHERE n > 0`

// source is where a query reads instances from: the index its filter is best served by, and
// the columns its (created, id) key is read from there.
type source struct {
	index   string // the index that drives the query, as EXPLAIN QUERY PLAN names it
	from    string
	created string // the key's columns
	id      string
}

// sourceFor picks the index for f, most selective filters first: a bookmark (instance_bookmarks,
// in key order), an exception, the definition with or without a state, the state, an updated
// range (then sorted), else instances_created (in key order, which created ranges narrow).
// Every choice but the updated range reads in (created, id) order, so a page stops after its
// size. The choice is written into the query (INDEXED BY): without statistics the planner
// could pick otherwise.
func sourceFor(f store.Filter) source {
	indexed := func(index string) source {
		return source{index: index, from: "instances AS i INDEXED BY " + index, created: "i.created", id: "i.id"}
	}
	switch {
	case f.Bookmark != "":
		// CROSS JOIN keeps instance_bookmarks the outer loop; instances are found by id.
		return source{index: "instance_bookmarks", from: "instance_bookmarks AS b CROSS JOIN instances AS i ON i.id = b.instance_id",
			created: "b.created", id: "b.instance_id"}
	case f.Exception != "":
		return indexed("instances_exception")
	case f.Definition != "" && f.State != "":
		return indexed("instances_state_definition")
	case f.Definition != "":
		return indexed("instances_definition")
	case f.State != "":
		return indexed("instances_state")
	case !f.UpdatedAfter.IsZero() || !f.UpdatedBefore.IsZero():
		return indexed("instances_updated")
	}
	return indexed("instances_created")
}

// conditions is f as SQL terms over instances AS i (and instance_bookmarks AS b), with their
// arguments, and for a page after a key, the key's term.
func conditions(f store.Filter, src source, after *store.PageKey) ([]string, []any) {
	var terms []string
	var args []any
	add := func(term string, a ...any) {
		terms = append(terms, term)
		args = append(args, a...)
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
		add("i.version_key <= ? AND i.version_key != ''", store.VersionKey(f.VersionMax))
	}
	if f.Exception != "" {
		// The second term lets instances_exception (WHERE exception != '') be used.
		add("i.exception = ? AND i.exception != ''", f.Exception)
	}
	if f.ReasonContains != "" {
		add("instr(i.suspension_reason, ?) > 0", f.ReasonContains)
	}
	// Stored times are whole milliseconds: t < x ⇔ t < ceil(x), t > x ⇔ t > floor(x).
	// Of a lower created bound and the key, only the one that implies the other is written, so
	// that it starts the index range: a deep page does not walk the rows before its key.
	switch {
	case after != nil && (f.CreatedAfter.IsZero() || toMS(after.Created) > floorMS(f.CreatedAfter)):
		add("("+src.created+", "+src.id+") > (?, ?)", toMS(after.Created), after.ID.String())
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

// pageColumns are instanceColumns of instances AS i, without the image (NULL, as a
// missing one) and, unless asked for, without the variables.
func pageColumns(variables bool) string {
	v := "NULL"
	if variables {
		v = "i.variables"
	}
	return `i.id, i.definition_name, i.definition_package, i.definition_version, i.state, i.completion,
	i.suspension_reason, i.suspension_exception, i.completion_reason, i.blocking_bookmarks, i.pending_timer,
	i.execution_status, i.failures, NULL, 1, ` + v + `, i.completion_exception, i.version, i.lease_owner, i.lease_token,
	i.created, i.updated`
}

// pageSQL selects up to limit instances f selects after key (nil: from the start), in order.
func pageSQL(f store.Filter, after *store.PageKey, limit int, variables bool) (string, []any) {
	src := sourceFor(f)
	terms, args := conditions(f, src, after)
	q := "SELECT " + pageColumns(variables) + " FROM " + src.from + where(terms) +
		" ORDER BY " + src.created + ", " + src.id + " LIMIT ?"
	return q, append(args, int64(limit))
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

// floorMS and ceilMS are t in Unix milliseconds rounded down and up.
func floorMS(t time.Time) int64 {
	return t.Unix()*1000 + int64(t.Nanosecond()/1e6)
}

func ceilMS(t time.Time) int64 {
	ms := floorMS(t)
	if t.Nanosecond()%1e6 != 0 {
		ms++
	}
	return ms
}
