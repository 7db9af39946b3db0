package sqlite

import (
	"context"
	"database/sql"
	"github.com/google/uuid"

	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/store/internal/backend"
)

// QueryInstances returns one page of the instances q.Filter selects, by (created, id), read
// from the index its filter names (see source) and continued after the token's key: a page
// costs the same wherever it is in the result.
func (s *Store) QueryInstances(ctx context.Context, q store.PageQuery) (store.Page, error) {
	if s.rclosed.Load() {
		return store.Page{}, store.ErrClosed
	}
	size, after, err := backend.PageStart(q)
	if err != nil {
		return store.Page{}, err
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
	return backend.PageOf(out, size), nil
}

// CountInstances counts the instances f selects, grouped by by. A filter on state, completion,
// definition and exception only is answered from instance_counts (a row per combination of
// those, kept by triggers), whatever the number of instances; any other filter counts rows
// through the same index a page with that filter reads.
func (s *Store) CountInstances(ctx context.Context, f store.Filter, by store.GroupBy) ([]store.Count, error) {
	if s.rclosed.Load() {
		return nil, store.ErrClosed
	}
	if err := backend.CheckCount(f, by); err != nil {
		return nil, err
	}
	groups := map[store.Count]int64{}
	var err error
	if f.Summarizable() {
		err = retry(ctx, func() error {
			clear(groups)
			return s.query(ctx, summarySQL, nil, func(rows *sql.Rows) error {
				return backend.SummaryGroup(groups, f, by, rows.Scan)
			})
		})
	} else {
		query, args := countSQL(f, by)
		err = retry(ctx, func() error {
			clear(groups)
			return s.query(ctx, query, args, func(rows *sql.Rows) error {
				var k store.Count
				var n int64
				if err := rows.Scan(append(backend.GroupDest(by, &k), &n)...); err != nil {
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
	return backend.Counts(groups, by), nil
}

const summarySQL = `SELECT state, completion, definition_name, definition_package, definition_version, exception, n
	FROM instance_counts WHERE n > 0`

// source is where a query reads instances from: the index its filter is best served by, and
// the columns its (created, id) key is read from there.
type source struct {
	index string // the index that drives the query, as EXPLAIN QUERY PLAN names it
	backend.Source
}

// sourceFor picks the index for f, most selective filters first: a correlation key (unique), a
// parent (its children), a bookmark (instance_bookmarks, in key order), a promoted property
// (instance_properties, in key order), an exception, a current state, the definition with or
// without a state, the state, having a parent (the children only, then sorted), an updated
// range (then sorted), else instances_created (in key order, which created ranges narrow).
// Every choice but having a parent and the updated range reads in (created, id) order, so a
// page stops after its size. The choice is written into the query (INDEXED BY): without
// statistics the planner could pick otherwise.
func sourceFor(f store.Filter) source {
	indexed := func(index string) source {
		return source{index, backend.Source{From: "instances AS i INDEXED BY " + index, Created: "i.created", ID: "i.id"}}
	}
	switch {
	case f.CorrelationKey != "":
		return indexed("instances_correlation_key")
	case f.Parent != uuid.Nil:
		return indexed("instances_parent")
	case f.Bookmark != "":
		// CROSS JOIN keeps instance_bookmarks the outer loop; instances are found by id.
		return source{"instance_bookmarks", backend.Source{From: "instance_bookmarks AS b CROSS JOIN instances AS i ON i.id = b.instance_id",
			Created: "b.created", ID: "b.instance_id", Bookmarks: true}}
	case len(f.Properties) > 0:
		// The first property (by name) drives, like a bookmark; the others are checked by
		// Conditions' EXISTS terms.
		return source{"instance_properties", backend.Source{From: "instance_properties AS p CROSS JOIN instances AS i ON i.id = p.instance_id",
			Created: "p.created", ID: "p.instance_id", Property: backend.FirstProperty(f.Properties)}}
	case f.Exception != "":
		return indexed("instances_exception")
	case f.CurrentState != "":
		return indexed("instances_current_state")
	case f.Definition != "" && f.State != "":
		return indexed("instances_state_definition")
	case f.Definition != "":
		return indexed("instances_definition")
	case f.State != "":
		return indexed("instances_state")
	case f.HasParent:
		// Only the children are read (the index holds nothing else), then sorted.
		return indexed("instances_parent")
	case !f.UpdatedAfter.IsZero() || !f.UpdatedBefore.IsZero():
		return indexed("instances_updated")
	}
	return indexed("instances_created")
}

// dialect writes the shared query builders' SQL for SQLite.
var dialect = backend.Dialect{
	Contains: "instr",
	Time:     func(ms int64) any { return ms },
	ID:       func(id uuid.UUID) any { return id.String() },
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
	i.execution_status, i.failures, NULL, 1, 0, ` + v + `, i.completion_exception, i.version, i.lease_owner, i.lease_token,
	i.created, i.updated, i.correlation_key, i.current_state, i.properties, i.parent`
}

// pageSQL selects up to limit instances f selects after key (nil: from the start), in order.
func pageSQL(f store.Filter, after *store.PageKey, limit int, variables bool) (string, []any) {
	return dialect.PageSQL(pageColumns(variables), sourceFor(f).Source, f, after, limit)
}

// countSQL counts the instances f selects by the group's columns.
func countSQL(f store.Filter, by store.GroupBy) (string, []any) {
	return dialect.CountSQL(sourceFor(f).Source, f, by)
}
