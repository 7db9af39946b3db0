package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/wimp-project/wimp/workflow"
)

func init() {
	register(&command{
		name: "purge", group: groupOperate, flags: purgeFlags,
		summary: "delete completed instances --completed-before T [FILTER] [--dry-run] [--yes]",
		doc: `Deletes the Completed instances that completed before --completed-before T and that the
filter flags select, with their tracking records (Purge), and prints how many it deleted
(--dry-run: how many it would). Active and Suspended instances are never purged: a --state
other than completed is refused, and the live instances the filter selects are counted and
left alone. A purged id is unknown to every later operation. Purge cannot be undone: it asks
for confirmation when stdin is a terminal, and needs --yes when it is not (or --dry-run).

` + filterHelp,
	})
}

func purgeFlags(fs *flag.FlagSet) action {
	var ff filterFlags
	ff.register(fs)
	before := fs.String("completed-before", "", "only instances that completed before `T` (required)")
	dry := fs.Bool("dry-run", false, "count what would be purged; delete nothing")
	yes := fs.Bool("yes", false, "do not ask for confirmation")
	out := outputFlags(fs, "the same as table")
	return func(ctx context.Context, c *client, _ []string) error {
		now := time.Now()
		if *before == "" {
			return usagef("purge needs --completed-before T (an RFC 3339 time, or a duration such as 720h meaning that long ago)")
		}
		f, err := ff.filter(now)
		if err != nil {
			return err
		}
		if f.State != "" && f.State != workflow.Completed {
			return usagef("purge deletes only Completed instances; --state %s is never purged", f.State)
		}
		if !f.UpdatedBefore.IsZero() {
			return usagef("purge: --completed-before is the time bound; leave out --updated-before")
		}
		// Nothing changes a Completed instance: its last update is its completion.
		if f.UpdatedBefore, err = parseWhen(*before, now); err != nil {
			return usagef("--completed-before: %v", err)
		}
		if !*dry && !*yes {
			count := func() (int64, error) {
				preview, err := c.hosting.Purge(ctx, f, true)
				if err != nil {
					return 0, err
				}
				return preview.Purged, nil
			}
			if err := confirm(c, "purge", count); err != nil {
				return err
			}
		}
		res, err := c.hosting.Purge(ctx, f, *dry)
		if err != nil {
			return err
		}
		if *out == formatJSON {
			return writeJSON(c.out, res)
		}
		verb := "purged"
		if *dry {
			verb = "would purge"
		}
		_, err = fmt.Fprintf(c.out, "%s %d completed instances (%d live instances matched and were left alone)\n", verb, res.Purged, res.Live)
		return err
	}
}
