package main

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/hosting"
	"github.com/wimp-project/wimp/workflow"
)

// filterFlags are the instance filter flags: the same on every command that selects
// instances (list, count, and those that act on what they select). Register them with register,
// read them with filter.
type filterFlags struct {
	state, completion, definition, pkg                       string
	version, versionMin, versionMax                          string
	exception, reasonContains, bookmark                      string
	createdAfter, createdBefore, updatedAfter, updatedBefore string
	parent                                                   string
}

// filterHelp is what a command that takes the filter flags says of them in its --help.
const filterHelp = `The filter flags are ANDed; none selects every instance. Times (T) are RFC 3339 times
(2026-11-30T08:00:00Z) or durations meaning that long ago (24h, 90m); time bounds are
exclusive, version bounds inclusive, in System.Version order (1.0 < 1.0.0 < 1.0.0.0 < 10.0).`

func (ff *filterFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&ff.state, "state", "", "only instances in `STATE`: Active, Suspended or Completed (any case)")
	fs.StringVar(&ff.completion, "completion", "", "only instances that completed `HOW`: Closed, Canceled, Terminated or Faulted (any case)")
	fs.StringVar(&ff.definition, "definition", "", "only instances of the definition `NAME`")
	fs.StringVar(&ff.pkg, "package", "", "only instances of a definition in `PACKAGE`")
	fs.StringVar(&ff.version, "version", "", "only instances of definition version `V` (1.0.0.0 is 1.00.0.0, not 1.0)")
	fs.StringVar(&ff.versionMin, "version-min", "", "only instances of definition version `V` or later")
	fs.StringVar(&ff.versionMax, "version-max", "", "only instances of definition version `V` or earlier")
	fs.StringVar(&ff.exception, "exception", "", "only instances suspended or faulted by the exception `NAME`")
	fs.StringVar(&ff.reasonContains, "reason-contains", "", "only instances whose suspension reason contains `TEXT` (case sensitive)")
	fs.StringVar(&ff.bookmark, "bookmark", "", "only instances waiting on the bookmark `NAME`")
	fs.StringVar(&ff.createdAfter, "created-after", "", "only instances created after `T`")
	fs.StringVar(&ff.createdBefore, "created-before", "", "only instances created before `T`")
	fs.StringVar(&ff.updatedAfter, "updated-after", "", "only instances last changed after `T`")
	fs.StringVar(&ff.updatedBefore, "updated-before", "", "only instances last changed before `T`")
	fs.StringVar(&ff.parent, "parent", "", "only the children (started by InvokeWorkflow) of the instance `ID`")
}

// filter is the flags' filter; durations are taken back from now.
func (ff *filterFlags) filter(now time.Time) (host.Filter, error) {
	f := host.Filter{Definition: ff.definition, Package: ff.pkg, Exception: ff.exception,
		ReasonContains: ff.reasonContains, Bookmark: ff.bookmark}
	var err error
	if f.State, err = parseState(ff.state); err != nil {
		return f, err
	}
	if f.Completion, err = parseCompletion(ff.completion); err != nil {
		return f, err
	}
	for _, v := range []struct {
		flag, value string
		dst         *string
	}{{"version", ff.version, &f.Version}, {"version-min", ff.versionMin, &f.VersionMin}, {"version-max", ff.versionMax, &f.VersionMax}} {
		if v.value == "" {
			continue
		}
		if _, err := workflow.ParseVersion(v.value); err != nil {
			return f, usagef("--%s: %v", v.flag, err)
		}
		*v.dst = v.value
	}
	for _, t := range []struct {
		flag, value string
		dst         *time.Time
	}{{"created-after", ff.createdAfter, &f.CreatedAfter}, {"created-before", ff.createdBefore, &f.CreatedBefore},
		{"updated-after", ff.updatedAfter, &f.UpdatedAfter}, {"updated-before", ff.updatedBefore, &f.UpdatedBefore}} {
		if t.value == "" {
			continue
		}
		if *t.dst, err = parseWhen(t.value, now); err != nil {
			return f, usagef("--%s: %v", t.flag, err)
		}
	}
	if ff.parent != "" {
		if f.Parent, err = uuid.Parse(ff.parent); err != nil {
			return f, usagef("--parent %q is not an instance id (a GUID)", ff.parent)
		}
	}
	return f, nil
}

// parseState reads a state name in any case ("" for none).
func parseState(s string) (workflow.State, error) {
	for _, st := range []workflow.State{workflow.Active, workflow.Suspended, workflow.Completed} {
		if strings.EqualFold(s, string(st)) {
			return st, nil
		}
	}
	if s == "" {
		return "", nil
	}
	return "", usagef("--state %q is not Active, Suspended or Completed", s)
}

// parseCompletion reads a completion name in any case ("" for none).
func parseCompletion(s string) (workflow.Completion, error) {
	for _, c := range []workflow.Completion{workflow.Closed, workflow.Canceled, workflow.Terminated, workflow.Faulted} {
		if strings.EqualFold(s, string(c)) {
			return c, nil
		}
	}
	if s == "" {
		return "", nil
	}
	return "", usagef("--completion %q is not Closed, Canceled, Terminated or Faulted", s)
}

// parseWhen reads a time: RFC 3339 (2026-11-30T08:00:00Z), or a positive Go duration (90m,
// 24h) meaning that long before now.
func parseWhen(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time (2026-11-30T08:00:00Z) nor a duration (24h, 90m)", s)
	}
	if d <= 0 {
		return time.Time{}, fmt.Errorf("%q: a duration means that long ago, and must be positive", s)
	}
	return now.Add(-d), nil
}

func init() {
	register(&command{
		name: "list", group: groupHosting, flags: listFlags,
		summary: "list instances [FILTER] [--limit N] [--page-token T | --all]",
		doc: `Lists the instances the filter flags select (QueryInstances), oldest first: one page of
--limit instances (default 100, at most 1000); when there are more, the next page's token
is printed on stderr (more instances: wimpctl list ... --page-token T). --all reads every
page. -o json includes the instances' variables.

` + filterHelp,
	})
	register(&command{
		name: "count", group: groupHosting, flags: countFlags,
		summary: "count instances [FILTER] [--by state|definition|exception]",
		doc: `Counts the instances the filter flags select (CountInstances), in all or grouped by
state, definition or exception.

` + filterHelp,
	})
	register(&command{
		name: "definitions", group: groupHosting, flags: definitionsFlags,
		summary: "list the server's registered definitions",
		doc: `Lists the server's registered definitions (GetDefinitions): identity, input arguments
(name:type, required or with its default) and, with -o wide, where each was loaded from and
the identities whose instances can be updated to it.`,
	})
}

// listFlags is list: one page of the instances the filter flags select (--all: every page).
// Without --all, the next page's token, if any, is written on stderr.
func listFlags(fs *flag.FlagSet) action {
	var ff filterFlags
	ff.register(fs)
	limit := fs.Int("limit", 0, "at most `N` instances, 1 to 1000 (default 100)")
	token := fs.String("page-token", "", "start at the page of this `TOKEN` (from the previous page)")
	all := fs.Bool("all", false, "read every page (from --page-token's, if given)")
	out := outputFlags(fs, "wide adds package, updated, next timer, exception and reason")
	return func(ctx context.Context, c *client, _ []string) error {
		f, err := ff.filter(time.Now())
		if err != nil {
			return err
		}
		if *limit < 0 || *limit > host.MaxPageSize {
			return usagef("--limit %d: a page holds 1 to %d instances", *limit, host.MaxPageSize)
		}
		req := host.QueryRequest{Filter: f, PageSize: *limit, PageToken: *token, IncludeVariables: *out == formatJSON}
		if *all && req.PageSize == 0 {
			req.PageSize = host.MaxPageSize
		}
		list := []*hosting.Instance{}
		for {
			page, err := c.hosting.QueryInstances(ctx, req)
			if err != nil {
				return err
			}
			list = append(list, page.Instances...)
			req.PageToken = page.NextPageToken
			if !*all || req.PageToken == "" {
				break
			}
		}
		if req.PageToken != "" {
			fmt.Fprintf(c.errOut, "more instances: wimpctl list ... --page-token %s\n", printable(req.PageToken))
		}
		if *out == formatJSON {
			return writeJSON(c.out, list)
		}
		wide := *out == formatWide
		tw := newTable(c.out)
		header := []string{"ID", "STATE", "COMPLETION", "DEFINITION", "VERSION", "BOOKMARKS", "CREATED"}
		if wide {
			header = append(header, "PACKAGE", "UPDATED", "TIMER", "EXCEPTION", "REASON")
		}
		tw.row(header...)
		for _, i := range list {
			cells := []string{cell(i.ID), cell(string(i.State)), cell(i.Completion), cell(i.Definition.Name),
				cell(i.Definition.Version), cell(strings.Join(i.Bookmarks, ",")), timeCell(i.Created)}
			if wide {
				timer := "-"
				if i.PendingTimer != nil {
					timer = timeCell(*i.PendingTimer)
				}
				exception, reason := i.SuspensionException, i.SuspensionReason
				if i.State == workflow.Completed {
					exception, reason = i.CompletionException, i.CompletionReason
				}
				cells = append(cells, cell(i.Definition.Package), timeCell(i.Updated), timer, cell(exception), cell(reason))
			}
			tw.row(cells...)
		}
		return tw.flush()
	}
}

// countFlags is count: how many instances the filter flags select, grouped by --by.
func countFlags(fs *flag.FlagSet) action {
	var ff filterFlags
	ff.register(fs)
	by := fs.String("by", "", "group the counts by `KEY`: state, definition or exception")
	out := outputFlags(fs, "wide: as table")
	return func(ctx context.Context, c *client, _ []string) error {
		f, err := ff.filter(time.Now())
		if err != nil {
			return err
		}
		var group host.GroupBy
		switch strings.ToLower(*by) {
		case "", "none":
			group = host.GroupNone
		case "state":
			group = host.GroupByState
		case "definition":
			group = host.GroupByDefinition
		case "exception":
			group = host.GroupByException
		default:
			return usagef("--by %q is not state, definition or exception", *by)
		}
		counts, err := c.hosting.CountInstances(ctx, f, group)
		if err != nil {
			return err
		}
		if *out == formatJSON {
			return writeJSON(c.out, counts)
		}
		if group == host.GroupNone {
			fmt.Fprintln(c.out, counts.Total)
			return nil
		}
		p := printable
		tw := newTable(c.out)
		switch group {
		case host.GroupByState:
			tw.row("STATE", "COUNT")
		case host.GroupByDefinition:
			tw.row("DEFINITION", "VERSION", "PACKAGE", "COUNT")
		case host.GroupByException:
			tw.row("EXCEPTION", "COUNT")
		}
		for _, g := range counts.Groups {
			n := strconv.FormatInt(g.Count, 10)
			switch {
			case group == host.GroupByState:
				tw.row(p(string(g.State)), n)
			case group == host.GroupByDefinition && g.Definition != nil:
				tw.row(cell(g.Definition.Name), cell(g.Definition.Version), cell(g.Definition.Package), n)
			case group == host.GroupByException && g.Exception != nil:
				name := p(*g.Exception)
				if name == "" {
					name = "(none)"
				}
				tw.row(name, n)
			}
		}
		if err := tw.flush(); err != nil {
			return err
		}
		_, err = fmt.Fprintf(c.out, "total %d\n", counts.Total)
		return err
	}
}

// definitionsFlags is definitions: the server's registered definitions.
func definitionsFlags(fs *flag.FlagSet) action {
	out := outputFlags(fs, "wide adds where each was loaded from and the identities it updates")
	return func(ctx context.Context, c *client, _ []string) error {
		defs, err := c.hosting.Definitions(ctx)
		if err != nil {
			return err
		}
		if *out == formatJSON {
			return writeJSON(c.out, defs)
		}
		wide := *out == formatWide
		p := printable
		tw := newTable(c.out)
		header := []string{"NAME", "VERSION", "PACKAGE", "ARGUMENTS"}
		if wide {
			header = append(header, "SOURCE", "LOCATION", "UPDATABLE-FROM")
		}
		tw.row(header...)
		for _, d := range defs {
			var args, from []string
			for _, a := range d.Arguments {
				s := p(a.Name) + ":" + p(a.Type)
				if a.Required {
					s += " (required)"
				}
				if a.Default != "" {
					s += " = " + p(a.Default)
				}
				args = append(args, s)
			}
			cells := []string{cell(d.Name), cell(d.Version), cell(d.Package), dash(strings.Join(args, ", "))}
			if wide {
				for _, id := range d.UpdatableFrom {
					from = append(from, p(id.Name)+" "+p(id.Version))
				}
				cells = append(cells, cell(d.Source), cell(d.Location), dash(strings.Join(from, ", ")))
			}
			tw.row(cells...)
		}
		return tw.flush()
	}
}
