package backend

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/workflow"
)

// Dialect is what differs between the backends' SQL where the shared query builders write it.
type Dialect struct {
	Placeholder func(n int) string  // the n-th (from 1) argument's placeholder; nil: ?
	Contains    string              // f(s, sub) > 0 ⇔ s contains sub: instr, strpos
	Time        func(ms int64) any  // the argument for a time, given in Unix milliseconds
	ID          func(uuid.UUID) any // the argument for an instance id
	// WaitsOn is the term that instance i waits on the bookmark ?, for a source that does not
	// read instance_bookmarks; "": a lookup of i's row there.
	WaitsOn string
}

// Source is where a query reads instances from, and the columns its (created, id) key is read
// from there.
type Source struct {
	From        string
	Created, ID string
	// Property is the name of the promoted property whose rows of instance_properties AS p
	// From reads ("" when it reads no such rows).
	Property string
	// Bookmarks: From reads the filter's bookmark's rows of instance_bookmarks AS b (else a
	// bookmark filter is a lookup of the instance's row there).
	Bookmarks bool
}

// Conditions is f as SQL terms over instances AS i (and instance_bookmarks AS b), with their
// arguments, and for a page after a key, the key's term.
func (d Dialect) Conditions(f store.Filter, src Source, after *store.PageKey) ([]string, []any) {
	var terms []string
	var args []any
	add := func(term string, a ...any) {
		for _, v := range a {
			args = append(args, v)
			if d.Placeholder != nil {
				term = strings.Replace(term, "?", d.Placeholder(len(args)), 1)
			}
		}
		terms = append(terms, term)
	}
	if f.CorrelationKey != "" {
		add("i.correlation_key = ?", f.CorrelationKey)
	}
	// Both parent terms imply parent IS NOT NULL, so the partial index on it can be used.
	if f.Parent != uuid.Nil {
		add("i.parent = ?", d.ID(f.Parent))
	} else if f.HasParent {
		add("i.parent IS NOT NULL")
	}
	switch {
	case f.Bookmark != "" && src.Bookmarks:
		add("b.bookmark = ?", f.Bookmark)
	case f.Bookmark != "" && d.WaitsOn != "":
		add(d.WaitsOn, f.Bookmark)
	case f.Bookmark != "":
		add("EXISTS (SELECT 1 FROM instance_bookmarks AS k WHERE k.bookmark = ? AND k.created = i.created"+
			" AND k.instance_id = i.id)", f.Bookmark)
	}
	for _, name := range slices.Sorted(maps.Keys(f.Properties)) {
		if name == src.Property {
			add("p.name = ? AND p.value = ?", name, f.Properties[name])
			continue
		}
		add("EXISTS (SELECT 1 FROM instance_properties AS q WHERE q.instance_id = i.id AND q.created = i.created"+
			" AND q.name = ? AND q.value = ?)", name, f.Properties[name])
	}
	if f.CurrentState != "" {
		// The second term lets a partial index on current_state <> '' be used.
		add("i.current_state = ? AND i.current_state <> ''", f.CurrentState)
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
		add(d.Contains+"(i.suspension_reason, ?) > 0", f.ReasonContains)
	}
	// Stored times are whole milliseconds: t < x ⇔ t < ceil(x), t > x ⇔ t > floor(x).
	// Of a lower created bound and the key, only the one that implies the other is written, so
	// that it starts the index range: a deep page does not walk the rows before its key.
	switch {
	case after != nil && (f.CreatedAfter.IsZero() || after.Created.UnixMilli() > FloorMS(f.CreatedAfter)):
		add("("+src.Created+", "+src.ID+") > (?, ?)", d.Time(after.Created.UnixMilli()), d.ID(after.ID))
	case !f.CreatedAfter.IsZero():
		add(src.Created+" > ?", d.Time(FloorMS(f.CreatedAfter)))
	}
	if !f.CreatedBefore.IsZero() {
		add(src.Created+" < ?", d.Time(CeilMS(f.CreatedBefore)))
	}
	if !f.UpdatedAfter.IsZero() {
		add("i.updated > ?", d.Time(FloorMS(f.UpdatedAfter)))
	}
	if !f.UpdatedBefore.IsZero() {
		add("i.updated < ?", d.Time(CeilMS(f.UpdatedBefore)))
	}
	return terms, args
}

// PageSQL selects columns of up to limit instances f selects after key (nil: from the start),
// in key order.
func (d Dialect) PageSQL(columns string, src Source, f store.Filter, after *store.PageKey, limit int) (string, []any) {
	terms, args := d.Conditions(f, src, after)
	args = append(args, int64(limit))
	p := "?"
	if d.Placeholder != nil {
		p = d.Placeholder(len(args))
	}
	q := "SELECT " + columns + " FROM " + src.From + Where(terms) +
		" ORDER BY " + src.Created + ", " + src.ID + " LIMIT " + p
	return q, args
}

// CountSQL counts the instances f selects by the group's columns.
func (d Dialect) CountSQL(src Source, f store.Filter, by store.GroupBy) (string, []any) {
	terms, args := d.Conditions(f, src, nil)
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
		return "SELECT COUNT(*) FROM " + src.From + Where(terms), args
	}
	return "SELECT " + cols + ", COUNT(*) FROM " + src.From + Where(terms) + " GROUP BY " + cols, args
}

// FirstProperty is the first of the filter's property names in sorted order.
func FirstProperty(p map[string]string) string {
	return slices.Min(slices.Collect(maps.Keys(p)))
}

// Where is the WHERE clause of terms, "" for none.
func Where(terms []string) string {
	if len(terms) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(terms, " AND ")
}

// FloorMS and CeilMS are t in Unix milliseconds rounded down and up.
func FloorMS(t time.Time) int64 { return t.UnixMilli() }

func CeilMS(t time.Time) int64 {
	ms := FloorMS(t)
	if t.Nanosecond()%1e6 != 0 {
		ms++
	}
	return ms
}

// PageStart checks q and returns its page size and the key it continues after (nil: from the
// start).
func PageStart(q store.PageQuery) (int, *store.PageKey, error) {
	if err := q.Filter.Validate(); err != nil {
		return 0, nil, err
	}
	size, err := store.PageSize(q.Size)
	if err != nil {
		return 0, nil, err
	}
	if q.Token == "" {
		return size, nil, nil
	}
	k, err := store.DecodePageToken(q.Token)
	if err != nil {
		return 0, nil, err
	}
	return size, &k, nil
}

// PageOf is the page of out, the up to size+1 instances read: the size+1st only says there is
// a next page, continued after the last one returned.
func PageOf(out []*store.Instance, size int) store.Page {
	var p store.Page
	if len(out) > size {
		out = out[:size]
		last := out[size-1]
		p.Next = store.EncodePageToken(store.PageKey{Created: last.Created, ID: last.ID})
	}
	p.Instances = out
	return p
}

// CheckCount checks CountInstances' arguments.
func CheckCount(f store.Filter, by store.GroupBy) error {
	if err := f.Validate(); err != nil {
		return err
	}
	if !by.Valid() {
		return fmt.Errorf("%w: group by %q (want state, definition, exception or none)", store.ErrInvalidQuery, by)
	}
	return nil
}

// GroupDest is where a row of CountSQL's group columns (before the count) is scanned into k.
func GroupDest(by store.GroupBy, k *store.Count) []any {
	switch by {
	case store.GroupByState:
		return []any{(*string)(&k.State)}
	case store.GroupByDefinition:
		return []any{&k.Definition.Name, &k.Definition.Package, &k.Definition.Version}
	case store.GroupByException:
		return []any{&k.Exception}
	}
	return nil
}

// SummaryGroup adds a row of instance_counts (the columns of state, completion, definition and
// exception, and n) to groups if f matches it.
func SummaryGroup(groups map[store.Count]int64, f store.Filter, by store.GroupBy, scan func(dest ...any) error) error {
	var in store.Instance
	var state, completion string
	var n int64
	if err := scan(&state, &completion, &in.Definition.Name, &in.Definition.Package,
		&in.Definition.Version, &in.SuspensionException, &n); err != nil {
		return err
	}
	in.State, in.Completion = workflow.State(state), workflow.Completion(completion)
	if f.Matches(&in) {
		groups[store.GroupKey(&in, by)] += n
	}
	return nil
}

// Counts is CountInstances' answer from the counts by group: the non-empty groups, sorted, or
// for GroupNone the one count even if 0.
func Counts(groups map[store.Count]int64, by store.GroupBy) []store.Count {
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
	return out
}
