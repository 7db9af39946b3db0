package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/hosting"
	"github.com/wimp-project/wimp/workflow"
)

// bulkOperations are the MS-WFIM operations a bulk job applies, by the name the command takes.
var bulkOperations = map[string]string{
	"suspend": "Suspend", "unsuspend": "Unsuspend", "run": "Run", "cancel": "Cancel",
	"terminate": "Terminate", "abandon": "Abandon", "update": "Update",
}

// confirmed are the operations that ask before they start (they cannot be undone).
var confirmed = map[string]bool{"Cancel": true, "Terminate": true, "Abandon": true}

func init() {
	register(&command{
		name: "bulk", args: "OPERATION [JOB]", group: groupOperate, flags: bulkFlags,
		summary: "apply an operation to every instance a filter selects, as a durable job; prints its id",
		doc: `wimpctl bulk suspend|unsuspend|run|cancel|terminate|abandon|update [FILTER] [--reason R]
        [--dry-run] [--rate N] [--max N] [--yes] [--wait]
wimpctl bulk status JOB [--items N] [--after SEQ]
wimpctl bulk cancel JOB

Starts a bulk job on the server (StartBulkOperation) that applies the MS-WFIM operation to
every instance the filter flags select, one at a time at --rate instances per second
(default 100), each exactly as a single call would (same state table, same faults, the job
id in each tracking record), and prints the job's id. The job is stored: it survives a
server restart and goes on where it stopped. --dry-run reports what each instance would get
and changes nothing. update needs --to-name (and --to-package, --to-version) for the new
identity.

cancel, terminate and abandon ask for confirmation when stdin is a terminal, and need --yes
when it is not. With --wait, or when stderr is a terminal, a progress line follows the job
until it ends, then its status is printed; the exit code is then 0 for a completed job
(whatever its instances' outcomes), 1 for a canceled or failed one.

bulk status prints the job's progress (matched, done, ok, faults by subcode) and its first
--items per-instance results (default 20) after --after; bulk cancel JOB stops it where it
is (bulk cancel without a JOB is the Cancel operation on the instances the filter selects).

` + filterHelp,
	})
}

func bulkFlags(fs *flag.FlagSet) action {
	var ff filterFlags
	ff.register(fs)
	reason := fs.String("reason", "", "the `REASON` recorded with each instance's operation (suspend, terminate, abandon)")
	dry := fs.Bool("dry-run", false, "report what each instance would get; change nothing")
	rate := fs.Float64("rate", 0, "at most `N` instances per second (default 100)")
	maxN := fs.Int64("max", 0, "stop after `N` instances (default: no limit)")
	yes := fs.Bool("yes", false, "do not ask for confirmation (cancel, terminate, abandon)")
	wait := fs.Bool("wait", false, "follow the job until it ends, then print its status")
	toName := fs.String("to-name", "", "update: the new identity's definition `NAME`")
	toPkg := fs.String("to-package", "", "update: the new identity's `PACKAGE`")
	toVersion := fs.String("to-version", "", "update: the new identity's `VERSION`")
	items := fs.Int("items", 20, "bulk status: print up to `N` per-instance results (0: none)")
	after := fs.Int64("after", 0, "bulk status: the results after `SEQ`")
	out := outputFlags(fs, "wide adds the results' detail")
	return func(ctx context.Context, c *client, args []string) error {
		sub := strings.ToLower(args[0])
		// "bulk cancel JOB" stops a job; "bulk cancel [FILTER]", without a JOB, cancels instances.
		if sub == "status" || (sub == "cancel" && len(args) == 2) {
			if len(args) != 2 {
				return usagef("bulk %s takes JOB", sub)
			}
			id, err := uuid.Parse(args[1])
			if err != nil {
				return usagef("bulk %s: %q is not a job id", sub, args[1])
			}
			if sub == "cancel" {
				j, err := c.hosting.CancelBulkOperation(ctx, id)
				if err != nil {
					return err
				}
				return printJob(c, &hosting.BulkPage{Job: j}, *out)
			}
			if *items < 0 || *items > 1000 {
				return usagef("--items %d: 0 to 1000", *items)
			}
			page, err := c.hosting.GetBulkOperation(ctx, id, *after, *items)
			if err != nil {
				return err
			}
			return printJob(c, page, *out)
		}
		op, ok := bulkOperations[sub]
		if !ok {
			return usagef("bulk: %q is not suspend, unsuspend, run, cancel, terminate, abandon, update, status or cancel", args[0])
		}
		if len(args) != 1 {
			return usagef("bulk %s takes no JOB", sub)
		}
		f, err := ff.filter(time.Now())
		if err != nil {
			return err
		}
		req := host.BulkRequest{Operation: op, Filter: f, Reason: *reason, DryRun: *dry, RatePerSecond: *rate, MaxInstances: *maxN}
		switch {
		case *rate < 0:
			return usagef("--rate %v: must not be negative", *rate)
		case *maxN < 0:
			return usagef("--max %d: must not be negative", *maxN)
		case op == "Update" && *toName == "":
			return usagef("bulk update needs --to-name (and --to-package, --to-version) for the new identity")
		case op != "Update" && (*toName != "" || *toPkg != "" || *toVersion != ""):
			return usagef("--to-name, --to-package and --to-version are bulk update's")
		case op == "Suspend" && *reason == "":
			return usagef("bulk suspend needs --reason")
		}
		if op == "Update" {
			req.Identity = &workflow.Identity{Name: *toName, Package: *toPkg, Version: *toVersion}
		}
		if confirmed[op] && !*dry && !*yes {
			count := func() (int64, error) {
				counts, err := c.hosting.CountInstances(ctx, f, host.GroupNone)
				if err != nil {
					return 0, err
				}
				return counts.Total, nil
			}
			if err := confirm(c, "bulk "+sub, count); err != nil {
				return err
			}
		}
		j, err := c.hosting.StartBulkOperation(ctx, req)
		if err != nil {
			return err
		}
		follow := *wait || isTerminal(c.errOut)
		if !follow {
			if *out == formatJSON {
				return writeJSON(c.out, j)
			}
			_, err := fmt.Fprintln(c.out, j.ID)
			return err
		}
		if *out != formatJSON {
			fmt.Fprintf(c.out, "job %s\n", j.ID)
		}
		page, err := followJob(ctx, c, j.ID)
		if err != nil {
			return err
		}
		if err := printJob(c, page, *out); err != nil {
			return err
		}
		if page.Job.Status != hosting.BulkCompleted {
			return fmt.Errorf("bulk job %s %s", page.Job.ID, strings.ToLower(page.Job.Status))
		}
		return nil
	}
}

// confirm asks on a terminal whether to go on with what (a command that cannot be undone),
// saying how many instances count finds; elsewhere it refuses without --yes (exit 64).
func confirm(c *client, what string, count func() (int64, error)) error {
	if !isTerminal(c.in) {
		return usagef("%s cannot be undone: add --yes to run it without a terminal to confirm on", what)
	}
	n, err := count()
	if err != nil {
		return err
	}
	fmt.Fprintf(c.errOut, "%s: %d instances (counted now)? This cannot be undone. [y/N] ", what, n)
	line, _ := bufio.NewReader(c.in).ReadString('\n')
	if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
		return usagef("%s: not confirmed", what)
	}
	return nil
}

// followJob polls the job until it ends, drawing a progress line on stderr when it is a
// terminal, and returns the ended job with its first results.
func followJob(ctx context.Context, c *client, id uuid.UUID) (*hosting.BulkPage, error) {
	draw := isTerminal(c.errOut)
	for {
		page, err := c.hosting.GetBulkOperation(ctx, id, 0, 0)
		if err != nil {
			return nil, err
		}
		j := page.Job
		if draw {
			fmt.Fprintf(c.errOut, "\r%s %d/%d done, %d ok, %d faults  ", bar(j.Done, j.Estimate, 30), j.Done, j.Estimate, j.OK, j.Done-j.OK)
		}
		if !j.Running() {
			if draw {
				fmt.Fprintln(c.errOut)
			}
			return c.hosting.GetBulkOperation(ctx, id, 0, 20)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// bar is a progress bar of width cells for done of total.
func bar(done, total int64, width int) string {
	n := width
	if total > 0 {
		n = int(min(done, total) * int64(width) / total)
	}
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "]"
}

// printJob prints a job and the page of its results it came with.
func printJob(c *client, page *hosting.BulkPage, out format) error {
	if out == formatJSON {
		return writeJSON(c.out, page)
	}
	j := page.Job
	tw := newTable(c.out)
	op := j.Operation
	if j.DryRun {
		op += " (dry run: nothing changed)"
	}
	if j.Identity != nil {
		op += " to " + j.Identity.String()
	}
	tw.row("JOB", j.ID.String())
	tw.row("OPERATION", cell(op))
	tw.row("STATUS", cell(j.Status))
	if j.Error != "" {
		tw.row("ERROR", cell(j.Error))
	}
	tw.row("PRINCIPAL", cell(j.Principal))
	tw.row("PROGRESS", fmt.Sprintf("%d of about %d matched, %d done, %d ok", j.Matched, j.Estimate, j.Done, j.OK))
	tw.row("FAULTS", faultsCell(j.Faults))
	tw.row("CREATED", timeCell(j.Created))
	tw.row("UPDATED", timeCell(j.Updated))
	if err := tw.flush(); err != nil {
		return err
	}
	if len(page.Items) == 0 {
		return nil
	}
	fmt.Fprintln(c.out)
	items := newTable(c.out)
	header := []string{"SEQ", "INSTANCE", "OUTCOME", "TIME"}
	if out == formatWide {
		header = append(header, "DETAIL")
	}
	items.row(header...)
	for _, it := range page.Items {
		r := []string{fmt.Sprint(it.Seq), it.Instance.String(), cell(it.Outcome), timeCell(it.Time)}
		if out == formatWide {
			r = append(r, cell(it.Detail))
		}
		items.row(r...)
	}
	if err := items.flush(); err != nil {
		return err
	}
	if j.Done > page.NextItemsAfter && len(page.Items) > 0 {
		fmt.Fprintf(c.errOut, "more results: wimpctl bulk status %s --after %d\n", j.ID, page.NextItemsAfter)
	}
	return nil
}

// faultsCell is the faults by subcode, in name order ("-" for none).
func faultsCell(faults map[string]int64) string {
	names := make([]string, 0, len(faults))
	for n := range faults {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %d", printable(n), faults[n])
	}
	return dash(strings.Join(parts, ", "))
}

// isTerminal reports whether the stream is a character device (a terminal), which only a
// real file can be.
func isTerminal(s any) bool {
	f, ok := s.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
