package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/hosting"
	"github.com/wimp-project/wimp/workflow"
)

// filterFlags are the instance filter flags list and count share.
type filterFlags struct {
	state, completion, definition, pkg                       string
	version, versionMin, versionMax                          string
	exception, reasonContains, bookmark                      string
	createdAfter, createdBefore, updatedAfter, updatedBefore string
}

func (ff *filterFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&ff.state, "state", "", "")
	fs.StringVar(&ff.completion, "completion", "", "")
	fs.StringVar(&ff.definition, "definition", "", "")
	fs.StringVar(&ff.pkg, "package", "", "")
	fs.StringVar(&ff.version, "version", "", "")
	fs.StringVar(&ff.versionMin, "version-min", "", "")
	fs.StringVar(&ff.versionMax, "version-max", "", "")
	fs.StringVar(&ff.exception, "exception", "", "")
	fs.StringVar(&ff.reasonContains, "reason-contains", "", "")
	fs.StringVar(&ff.bookmark, "bookmark", "", "")
	fs.StringVar(&ff.createdAfter, "created-after", "", "")
	fs.StringVar(&ff.createdBefore, "created-before", "", "")
	fs.StringVar(&ff.updatedAfter, "updated-after", "", "")
	fs.StringVar(&ff.updatedBefore, "updated-before", "", "")
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
			return f, fmt.Errorf("%w: --%s: %v", errUsage, v.flag, err)
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
			return f, fmt.Errorf("%w: --%s: %v", errUsage, t.flag, err)
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
	return "", fmt.Errorf("%w: --state %q is not Active, Suspended or Completed", errUsage, s)
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
	return "", fmt.Errorf("%w: --completion %q is not Closed, Canceled, Terminated or Faulted", errUsage, s)
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

// list prints one page of the instances the filter flags select (--all: every page). Without
// --all, the next page's token, if any, is written on stderr.
func (c *client) list(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("list", flag.ContinueOnError)
	var ff filterFlags
	ff.register(fs)
	limit := fs.Int("limit", 0, "")
	token := fs.String("page-token", "", "")
	all := fs.Bool("all", false, "")
	asJSON := fs.Bool("json", false, "")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	f, err := ff.filter(time.Now())
	if err != nil {
		return err
	}
	if *limit < 0 || *limit > host.MaxPageSize {
		return fmt.Errorf("%w: --limit %d: a page holds 1 to %d instances", errUsage, *limit, host.MaxPageSize)
	}
	req := host.QueryRequest{Filter: f, PageSize: *limit, PageToken: *token, IncludeVariables: *asJSON}
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
	if *asJSON {
		return writeJSON(c.out, list)
	}
	tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tCOMPLETION\tDEFINITION\tBOOKMARKS")
	p := printable
	for _, i := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s %s\t%s\n", p(i.ID), p(string(i.State)), p(i.Completion), p(i.Definition.Name),
			p(i.Definition.Version), joinPrintable(i.Bookmarks, ","))
	}
	return tw.Flush()
}

// count prints how many instances the filter flags select, grouped by --by.
func (c *client) count(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("count", flag.ContinueOnError)
	var ff filterFlags
	ff.register(fs)
	by := fs.String("by", "", "")
	asJSON := fs.Bool("json", false, "")
	if _, err := parse(fs, args); err != nil {
		return err
	}
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
		return fmt.Errorf("%w: --by %q is not state, definition or exception", errUsage, *by)
	}
	counts, err := c.hosting.CountInstances(ctx, f, group)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(c.out, counts)
	}
	if group == host.GroupNone {
		fmt.Fprintln(c.out, counts.Total)
		return nil
	}
	p := printable
	tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	switch group {
	case host.GroupByState:
		fmt.Fprintln(tw, "STATE\tCOUNT")
	case host.GroupByDefinition:
		fmt.Fprintln(tw, "DEFINITION\tVERSION\tPACKAGE\tCOUNT")
	case host.GroupByException:
		fmt.Fprintln(tw, "EXCEPTION\tCOUNT")
	}
	for _, g := range counts.Groups {
		switch {
		case group == host.GroupByState:
			fmt.Fprintf(tw, "%s\t%d\n", p(string(g.State)), g.Count)
		case group == host.GroupByDefinition && g.Definition != nil:
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", p(g.Definition.Name), p(g.Definition.Version), p(g.Definition.Package), g.Count)
		case group == host.GroupByException && g.Exception != nil:
			name := p(*g.Exception)
			if name == "" {
				name = "(none)"
			}
			fmt.Fprintf(tw, "%s\t%d\n", name, g.Count)
		}
	}
	tw.Flush()
	fmt.Fprintf(c.out, "total %d\n", counts.Total)
	return nil
}

// definitions prints the server's registered definitions.
func (c *client) definitions(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("definitions", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	defs, err := c.hosting.Definitions(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(c.out, defs)
	}
	p := printable
	tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tVERSION\tPACKAGE\tSOURCE\tARGUMENTS\tUPDATABLE FROM")
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
		for _, id := range d.UpdatableFrom {
			from = append(from, p(id.Name)+" "+p(id.Version))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s %s\t%s\t%s\n", p(d.Name), p(d.Version), p(d.Package), p(d.Source), p(d.Location),
			strings.Join(args, ", "), strings.Join(from, ", "))
	}
	return tw.Flush()
}
