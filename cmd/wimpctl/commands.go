package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/hosting"
	"github.com/wimp-project/wimp/protocol"
	"github.com/wimp-project/wimp/soap"
	"github.com/wimp-project/wimp/workflow"
)

var errUsage = errors.New("usage")

type client struct {
	control *soap.Client
	hosting *hosting.Client
	out     io.Writer
	errOut  io.Writer // notes that are not the command's output (list's next page token)
}

// newClient returns the clients of both endpoints at base, sharing hc (and so its TLS set-up)
// and creds (nil: none).
func newClient(base string, v soap.Version, hc *http.Client, creds *soap.Credentials, out, errOut io.Writer) *client {
	return &client{
		control: &soap.Client{HTTP: hc, URL: base + "/WorkflowControl", Version: v, Credentials: creds},
		hosting: &hosting.Client{SOAP: &soap.Client{HTTP: hc, URL: base + "/WorkflowHosting", Version: v, Credentials: creds}},
		out:     out,
		errOut:  errOut,
	}
}

// multiFlag collects repeated --input key=value flags.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// parse parses flags and positional arguments in any order and checks the positional count.
func parse(fs *flag.FlagSet, args []string, positional ...string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", errUsage, fs.Name(), err)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) != len(positional) {
		return nil, fmt.Errorf("%w: %s takes %s", errUsage, fs.Name(), strings.Join(positional, " "))
	}
	return pos, nil
}

func (c *client) dispatch(ctx context.Context, cmd string, args []string) error {
	switch cmd {
	case "run", "suspend", "unsuspend", "cancel", "terminate", "abandon", "update":
		return c.manage(ctx, cmd, args)
	case "create":
		return c.create(ctx, args)
	case "resume":
		return c.resume(ctx, args)
	case "get":
		return c.get(ctx, args)
	case "list":
		return c.list(ctx, args)
	case "count":
		return c.count(ctx, args)
	case "definitions":
		return c.definitions(ctx, args)
	case "track":
		return c.track(ctx, args)
	}
	return fmt.Errorf("%w: unknown command %q", errUsage, cmd)
}

func (c *client) manage(ctx context.Context, cmd string, args []string) error {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	transacted := fs.Bool("transacted", false, "")
	reason := fs.String("reason", "", "")
	name := fs.String("name", "", "")
	pkg := fs.String("package", "", "")
	version := fs.String("version", "", "")
	pos, err := parse(fs, args, "ID")
	if err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	opName := strings.ToUpper(cmd[:1]) + cmd[1:]
	if *transacted {
		if cmd == "abandon" {
			return fmt.Errorf("%w: abandon has no transacted variant", errUsage)
		}
		opName = "Transacted" + opName
	}
	op, _ := protocol.OpByName(opName)
	if op.Param != protocol.ReasonParam && set["reason"] {
		return fmt.Errorf("%w: %s takes no --reason", errUsage, cmd)
	}
	if op.Param != protocol.IdentityParam && (set["name"] || set["package"] || set["version"]) {
		return fmt.Errorf("%w: only update takes --name/--package/--version", errUsage)
	}
	if cmd == "suspend" && !set["reason"] {
		return fmt.Errorf("%w: suspend needs --reason", errUsage)
	}
	id, err := protocol.ParseGUID(pos[0])
	if err != nil {
		return fmt.Errorf("%w: %q is not a GUID", errUsage, pos[0])
	}
	req := protocol.Command{Op: op, InstanceID: id}
	if set["reason"] {
		req.Reason = reason
	}
	if set["name"] {
		req.Identity = &workflow.Identity{Name: *name, Package: *pkg, Version: *version}
	}
	body := protocol.Encode(req)
	_, err = c.control.Call(ctx, op.Action(), body)
	return err
}

func (c *client) create(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("create", flag.ContinueOnError)
	def := fs.String("definition", "", "")
	version := fs.String("version", "", "")
	idText := fs.String("id", "", "")
	var inputs multiFlag
	fs.Var(&inputs, "input", "")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *def == "" {
		return fmt.Errorf("%w: create needs --definition", errUsage)
	}
	req := host.CreateRequest{Definition: *def, Version: *version, Inputs: map[string]any{}}
	if *idText != "" {
		id, err := protocol.ParseGUID(*idText)
		if err != nil {
			return fmt.Errorf("%w: --id %q is not a GUID", errUsage, *idText)
		}
		req.ID = id
	}
	for _, kv := range inputs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fmt.Errorf("%w: --input %q is not key=value", errUsage, kv)
		}
		req.Inputs[k] = inputValue(v)
	}
	id, err := c.hosting.Create(ctx, req)
	if err != nil {
		return err
	}
	fmt.Fprintln(c.out, id)
	return nil
}

// inputValue reads a --input value as JSON when it is valid JSON (1500, true, "x", {...}),
// otherwise as a plain string (alice, 240h).
func inputValue(s string) any {
	var v any
	if json.Unmarshal([]byte(s), &v) == nil {
		return v
	}
	return s
}

func (c *client) resume(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("resume", flag.ContinueOnError)
	payload := fs.String("payload", "", "")
	pos, err := parse(fs, args, "ID", "BOOKMARK")
	if err != nil {
		return err
	}
	id, err := protocol.ParseGUID(pos[0])
	if err != nil {
		return fmt.Errorf("%w: %q is not a GUID", errUsage, pos[0])
	}
	if *payload != "" && !json.Valid([]byte(*payload)) {
		return fmt.Errorf("%w: --payload is not valid JSON", errUsage)
	}
	return c.hosting.ResumeBookmark(ctx, id, pos[1], *payload)
}

func (c *client) get(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("get", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "")
	pos, err := parse(fs, args, "ID")
	if err != nil {
		return err
	}
	id, err := protocol.ParseGUID(pos[0])
	if err != nil {
		return fmt.Errorf("%w: %q is not a GUID", errUsage, pos[0])
	}
	inst, err := c.hosting.GetInstance(ctx, id)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(c.out, inst)
	}
	p := printable
	tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "id\t%s\nstate\t%s\n", p(inst.ID), p(string(inst.State)))
	if inst.Completion != "" {
		fmt.Fprintf(tw, "completion\t%s\t%s\n", p(inst.Completion), p(inst.CompletionReason))
	}
	if inst.SuspensionReason != "" {
		fmt.Fprintf(tw, "suspended\t%s\t%s\n", p(inst.SuspensionReason), p(inst.SuspensionException))
	}
	fmt.Fprintf(tw, "definition\t%s %s (%s)\nbookmarks\t%s\n", p(inst.Definition.Name), p(inst.Definition.Version),
		p(inst.Definition.Package), joinPrintable(inst.Bookmarks, ", "))
	if inst.PendingTimer != nil {
		fmt.Fprintf(tw, "next timer\t%s\n", inst.PendingTimer.Format("2006-01-02 15:04:05Z07:00"))
	}
	vars, _ := json.Marshal(inst.Variables)
	fmt.Fprintf(tw, "variables\t%s\nupdated\t%s\n", p(string(vars)), inst.Updated.Format("2006-01-02 15:04:05Z07:00"))
	return tw.Flush()
}

func (c *client) track(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("track", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "")
	pos, err := parse(fs, args, "ID")
	if err != nil {
		return err
	}
	id, err := uuid.Parse(pos[0])
	if err != nil {
		if id, err = protocol.ParseGUID(pos[0]); err != nil {
			return fmt.Errorf("%w: %q is not a GUID", errUsage, pos[0])
		}
	}
	recs, err := c.hosting.TrackingRecords(ctx, id, 0)
	if err != nil {
		return err
	}
	if *asJSON {
		if recs == nil {
			recs = []hosting.Record{}
		}
		return writeJSON(c.out, recs)
	}
	tw := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tKIND\tNAME\tACTIVITY\tREASON\tPRINCIPAL")
	p := printable
	for _, r := range recs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Seq, r.Time.Format("15:04:05.000"), p(r.Kind), p(r.Name),
			p(r.Activity), p(r.Reason), p(r.Principal))
	}
	return tw.Flush()
}

// joinPrintable joins values with sep, each made printable.
func joinPrintable(values []string, sep string) string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = printable(v)
	}
	return strings.Join(out, sep)
}

func writeJSON(w io.Writer, v any) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(v)
}
