package postgres

import (
	"context"
	"github.com/google/uuid"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/store/internal/backend"
)

// QueryInstances returns one page of the instances q.Filter selects, by (created, id),
// continued after the token's key. Every filter but an updated range has an index that ends
// in (created, id) (see migrations/0001_init.sql), so a page stops after its size wherever it
// is in the result.
func (s *Store) QueryInstances(ctx context.Context, q store.PageQuery) (store.Page, error) {
	if s.rclosed.Load() {
		return store.Page{}, store.ErrClosed
	}
	size, after, err := backend.PageStart(q)
	if err != nil {
		return store.Page{}, err
	}
	query, args := pageSQL(q.Filter, after, size+1, q.Variables)
	out, err := collect(ctx, s, query, args, scanInstance)
	if err != nil {
		return store.Page{}, s.readErr(err)
	}
	return backend.PageOf(out, size), nil
}

// CountInstances counts the instances f selects, grouped by by. A filter on state, completion,
// definition and exception only is answered from instance_counts (deltas per combination of
// those, kept by triggers and folded by the writer), whatever the number of instances; any
// other filter counts rows through the index a page with that filter reads.
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
		err = s.query(ctx, summarySQL, nil, func(row pgx.Row) error {
			return backend.SummaryGroup(groups, f, by, row.Scan)
		})
	} else {
		query, args := countSQL(f, by)
		err = s.query(ctx, query, args, func(row pgx.Row) error {
			var k store.Count
			var n int64
			if err := row.Scan(append(backend.GroupDest(by, &k), &n)...); err != nil {
				return err
			}
			groups[k] += n
			return nil
		})
	}
	if err != nil {
		return nil, s.readErr(err)
	}
	return backend.Counts(groups, by), nil
}

const summarySQL = `SELECT state, completion, definition_name, definition_package, definition_version, exception, SUM(n)::bigint
	FROM instance_counts
	GROUP BY state, completion, definition_name, definition_package, definition_version, exception
	HAVING SUM(n) <> 0`

// sourceFor reads a bookmark's instances from instance_bookmarks, in key order, and joins
// them by id; any other filter reads instances, through the index the planner picks for it. A
// correlation key or a parent, which select few instances, reads instances whatever else f has.
func sourceFor(f store.Filter) backend.Source {
	if f.CorrelationKey != "" || f.Parent != uuid.Nil {
		return backend.Source{From: "instances AS i", Created: "i.created", ID: "i.id"}
	}
	if len(f.Properties) > 0 && f.Bookmark == "" {
		return backend.Source{From: "instance_properties AS p JOIN instances AS i ON i.id = p.instance_id",
			Created: "p.created", ID: "p.instance_id", Property: backend.FirstProperty(f.Properties)}
	}
	if f.Bookmark != "" {
		return backend.Source{From: "instance_bookmarks AS b JOIN instances AS i ON i.id = b.instance_id",
			Created: "b.created", ID: "b.instance_id", Bookmarks: true}
	}
	return backend.Source{From: "instances AS i", Created: "i.created", ID: "i.id"}
}

// dialect writes the shared query builders' SQL for PostgreSQL.
var dialect = backend.Dialect{
	Placeholder: func(n int) string { return "$" + strconv.Itoa(n) },
	Contains:    "strpos",
	Time:        func(ms int64) any { return time.UnixMilli(ms).UTC() },
	ID:          func(id uuid.UUID) any { return id },
	// A check of the row read: the planner would rather join instance_bookmarks by hash, all
	// of a shared bookmark's rows for a few instances.
	WaitsOn: "? = ANY (i.blocking_bookmarks)",
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
	i.created, i.updated, i.correlation_key, i.current_state, i.properties, i.parent`
}

// pageSQL selects up to limit instances f selects after key (nil: from the start), in order.
func pageSQL(f store.Filter, after *store.PageKey, limit int, variables bool) (string, []any) {
	return dialect.PageSQL(pageColumns(variables), sourceFor(f), f, after, limit)
}

// countSQL counts the instances f selects by the group's columns.
func countSQL(f store.Filter, by store.GroupBy) (string, []any) {
	return dialect.CountSQL(sourceFor(f), f, by)
}
