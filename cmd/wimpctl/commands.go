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
	"time"

	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"

	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/hosting"
	"github.com/wimp-project/wimp/protocol"
	"github.com/wimp-project/wimp/soap"
	"github.com/wimp-project/wimp/workflow"
)

// client is what an action works with: the two endpoints' clients (nil for an offline
// command) and the standard streams.
type client struct {
	control *soap.Client
	hosting *hosting.Client
	in      io.Reader
	out     io.Writer
	errOut  io.Writer // notes that are not the command's output (list's next page token)
}

// setEndpoints sets up the clients of both endpoints at base, sharing hc (and so its TLS
// set-up and time limit) and creds (nil: none).
func (c *client) setEndpoints(base string, v soap.Version, hc *http.Client, creds *soap.Credentials) {
	c.control = &soap.Client{HTTP: hc, URL: base + "/WorkflowControl", Version: v, Credentials: creds}
	c.hosting = &hosting.Client{SOAP: &soap.Client{HTTP: hc, URL: base + "/WorkflowHosting", Version: v, Credentials: creds}}
}

// bcryptCost is the cost of the hashes hash-password prints.
const bcryptCost = 12

// controlSummaries are the MS-WFIM commands' lines in the tool's usage; controlCommand makes
// one command per operation kind of protocol.Ops, with the flags of its operation's parameter.
var controlSummaries = map[protocol.Kind]string{
	protocol.Run:       "make the instance runnable, loading it if needed",
	protocol.Suspend:   "suspend the instance; --reason R is required",
	protocol.Unsuspend: "unsuspend the instance; timers that fell due meanwhile fire now, once",
	protocol.Cancel:    "cancel the instance: its cancellation handlers run, then it completes Canceled",
	protocol.Terminate: "terminate the instance at once [--reason R]; no handler runs",
	protocol.Abandon:   "drop the instance's memory: it goes back to its last persisted point [--reason R]",
	protocol.Update:    "update the instance's definition identity [--name N --package P --version V]",
}

func init() {
	for _, op := range protocol.Ops {
		if !op.Transacted {
			register(controlCommand(op))
		}
	}
	register(&command{
		name: "create", group: groupHosting, flags: createFlags,
		summary: "create an instance --definition NAME [--version V] [--id GUID | --key KEY] [--input K=V]...; prints its id",
		doc: `Creates an instance of a registered definition (Create, CreateWithInstanceId with --id,
CreateWithCorrelationKey with --key) and prints its id. --input KEY=VALUE converts VALUE to the type the definition declares for
the argument KEY (String as it is, Number, Boolean true or false, Object as JSON), asking
the server for its definitions first; KEY:=JSON sends the JSON value as it is.`,
	})
	register(&command{
		name: "resume-bookmark", args: "ID NAME", group: groupHosting, flags: resumeFlags, aliases: []string{"resume"},
		summary: "resume the instance's bookmark NAME [--payload JSON]",
		doc:     "Resumes the bookmark NAME of the instance ID, or key:KEY for the instance with that correlation key (ResumeBookmark), with a JSON payload.",
	})
	register(&command{
		name: "get", args: "ID", group: groupHosting, flags: getFlags,
		summary: "print an instance",
		doc: `Prints the instance ID, or key:KEY for the instance with that correlation key
(GetInstance): its state, completion or suspension, definition, bookmarks, state machine state,
correlation key and promoted properties, parent (for a child started by InvokeWorkflow), next
timer, variables and times.`,
	})
	register(&command{
		name: "hash-password", group: groupOffline, offline: true, flags: noFlags(hashPassword),
		summary: "read a password (stdin's first line) and print its bcrypt hash",
		doc: `Reads a password from stdin's first line and prints its bcrypt hash (cost 12), for the
server's users file. It does not contact the server.`,
	})
	register(&command{
		name: "help", args: "[COMMAND]", group: groupOffline, offline: true, flags: noFlags(help),
		summary: "print this help, or a command's",
		doc:     "Prints the tool's usage, or with COMMAND that command's (as wimpctl COMMAND --help).",
	})
}

// noFlags is the flags function of a command without flags of its own.
func noFlags(a action) func(*flag.FlagSet) action {
	return func(*flag.FlagSet) action { return a }
}

// controlCommand is the command of a plain MS-WFIM operation, with --transacted when it has a
// Transacted variant.
func controlCommand(plain protocol.Op) *command {
	name := strings.ToLower(plain.Kind.String())
	transacted, hasTransacted := protocol.OpByName("Transacted" + plain.Name)
	return &command{
		name: name, args: "ID", group: groupControl, summary: controlSummaries[plain.Kind],
		doc: fmt.Sprintf("Sends MS-WFIM %s for the instance ID (see docs/protocol.md, State table).", plain.Name),
		flags: func(fs *flag.FlagSet) action {
			var tx *bool
			if hasTransacted {
				tx = fs.Bool("transacted", false, "send "+transacted.Name+" instead of "+plain.Name)
			}
			var reason, idName, pkg, version *string
			switch plain.Param {
			case protocol.ReasonParam:
				usage := "the `REASON` recorded with it"
				if plain.Kind == protocol.Suspend {
					usage += " (required)"
				}
				reason = fs.String("reason", "", usage)
			case protocol.IdentityParam:
				idName = fs.String("name", "", "the new definition identity's `NAME` (without it: a nil identity)")
				pkg = fs.String("package", "", "the new identity's `PACKAGE`")
				version = fs.String("version", "", "the new identity's `VERSION`")
			}
			return func(ctx context.Context, c *client, args []string) error {
				set := map[string]bool{}
				fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
				id, err := parseID(args[0])
				if err != nil {
					return err
				}
				op := plain
				if tx != nil && *tx {
					op = transacted
				}
				if plain.Kind == protocol.Suspend && !set["reason"] {
					return usagef("suspend needs --reason")
				}
				if (set["package"] || set["version"]) && !set["name"] {
					return usagef("--package and --version go with --name")
				}
				req := protocol.Command{Op: op, InstanceID: id}
				if set["reason"] {
					req.Reason = reason
				}
				if set["name"] {
					req.Identity = &workflow.Identity{Name: *idName, Package: *pkg, Version: *version}
				}
				_, err = c.control.Call(ctx, op.Action(), protocol.Encode(req))
				return err
			}
		},
	}
}

// parseID reads an instance id argument (any form .NET's Guid.Parse takes).
func parseID(s string) (uuid.UUID, error) {
	id, err := protocol.ParseGUID(s)
	if err != nil {
		return uuid.Nil, usagef("%q is not a GUID", s)
	}
	return id, nil
}

// keyPrefix, before an ID argument, names the instance by its correlation key instead.
const keyPrefix = "key:"

// parseRef reads an ID argument of the hosting commands that accept a correlation key in its
// place: a GUID, or key:KEY.
func parseRef(s string) (hosting.Ref, error) {
	if key, ok := strings.CutPrefix(s, keyPrefix); ok {
		if key == "" {
			return hosting.Ref{}, usagef("%q names no correlation key", s)
		}
		return hosting.Ref{Key: key}, nil
	}
	id, err := parseID(s)
	return hosting.Ref{ID: id}, err
}

// multiFlag collects a repeated flag's values.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func createFlags(fs *flag.FlagSet) action {
	def := fs.String("definition", "", "the definition's `NAME`, or PACKAGE.NAME (required)")
	version := fs.String("version", "", "the definition's `VERSION` (default: the newest)")
	idText := fs.String("id", "", "the new instance's `GUID` (default: the server picks one)")
	key := fs.String("key", "", "the new instance's correlation `KEY` (CreateWithCorrelationKey; default: the one its definition computes, if any)")
	var inputs multiFlag
	fs.Var(&inputs, "input", "an input argument: `KEY=VALUE`, typed as the definition declares KEY, or KEY:=JSON; repeatable")
	out := outputFlags(fs, `json: {"id": ...}; wide: as table`)
	return func(ctx context.Context, c *client, _ []string) error {
		if *def == "" {
			return usagef("create needs --definition")
		}
		req := host.CreateRequest{Definition: *def, Version: *version, CorrelationKey: *key}
		if *idText != "" && *key != "" {
			return usagef("create takes --id or --key, not both")
		}
		if *idText != "" {
			id, err := protocol.ParseGUID(*idText)
			if err != nil {
				return usagef("--id %q is not a GUID", *idText)
			}
			req.ID = id
		}
		var err error
		if req.Inputs, err = c.inputs(ctx, *def, *version, inputs); err != nil {
			return err
		}
		id, err := c.hosting.Create(ctx, req)
		if err != nil {
			return err
		}
		if *out == formatJSON {
			return writeJSON(c.out, struct {
				ID string `json:"id"`
			}{id.String()})
		}
		fmt.Fprintln(c.out, id)
		return nil
	}
}

func resumeFlags(fs *flag.FlagSet) action {
	payload := fs.String("payload", "", "the `JSON` value the bookmark is resumed with (default: none)")
	return func(ctx context.Context, c *client, args []string) error {
		ref, err := parseRef(args[0])
		if err != nil {
			return err
		}
		if *payload != "" && !json.Valid([]byte(*payload)) {
			return usagef("--payload is not valid JSON")
		}
		return c.hosting.ResumeBookmarkByRef(ctx, ref, args[1], *payload)
	}
}

func getFlags(fs *flag.FlagSet) action {
	out := outputFlags(fs, "wide adds the execution status")
	wait := fs.Duration("wait", 0, "answer once the instance has completed, or after `D` (whole seconds, at most 30s) as it then is")
	return func(ctx context.Context, c *client, args []string) error {
		ref, err := parseRef(args[0])
		if err != nil {
			return err
		}
		if *wait < 0 || *wait > 30*time.Second || *wait%time.Second != 0 {
			return usagef("--wait %v is not a whole number of seconds from 0 to 30s", *wait)
		}
		if t := c.hosting.SOAP.HTTP.Timeout; t != 0 && *wait >= t {
			return usagef("--wait %v needs a longer --timeout than %v", *wait, t)
		}
		var inst *hosting.Instance
		if *wait > 0 {
			inst, err = c.hosting.AwaitInstance(ctx, ref, *wait)
		} else {
			inst, err = c.hosting.GetInstanceByRef(ctx, ref)
		}
		if err != nil {
			return err
		}
		if *out == formatJSON {
			return writeJSON(c.out, inst)
		}
		tw := newTable(c.out)
		// One line per field: its key, then its values, the empty ones left out.
		line := func(key string, values ...string) {
			cells := []string{key}
			for _, v := range values {
				if v != "" {
					cells = append(cells, printable(v))
				}
			}
			if len(cells) == 1 {
				cells = append(cells, "-")
			}
			tw.row(cells...)
		}
		line("id", inst.ID)
		line("state", string(inst.State))
		if inst.Completion != "" {
			line("completion", inst.Completion, inst.CompletionReason, inst.CompletionException)
		}
		if inst.SuspensionReason != "" || inst.SuspensionException != "" {
			line("suspended", inst.SuspensionReason, inst.SuspensionException)
		}
		d := inst.Definition
		line("definition", d.Name+" "+d.Version+" ("+d.Package+")")
		line("bookmarks", strings.Join(inst.Bookmarks, ", "))
		if inst.CurrentState != "" {
			line("state machine", inst.CurrentState)
		}
		if inst.CorrelationKey != "" {
			line("key", inst.CorrelationKey)
		}
		if inst.Parent != "" {
			line("parent", inst.Parent)
		}
		if len(inst.Properties) > 0 {
			props, _ := json.Marshal(inst.Properties)
			line("properties", string(props))
		}
		if inst.PendingTimer != nil {
			tw.row("next timer", timeCell(*inst.PendingTimer))
		}
		vars, _ := json.Marshal(inst.Variables)
		line("variables", string(vars))
		tw.row("created", timeCell(inst.Created))
		tw.row("updated", timeCell(inst.Updated))
		if *out == formatWide {
			line("execution", inst.ExecutionStatus)
		}
		return tw.flush()
	}
}

// hashPassword is `wimpctl hash-password`: the bcrypt hash of the password on stdin's first line.
func hashPassword(_ context.Context, c *client, _ []string) error {
	pw, err := readSecretLine(c.in)
	if err != nil {
		return fmt.Errorf("hash-password: reading stdin: %w", err)
	}
	switch {
	case pw == "":
		return errors.New("hash-password: the password is empty (stdin's first line)")
	case strings.ContainsFunc(pw, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		// Neither HTTP Basic (RFC 7617) nor wimpctl can send such a password.
		return errors.New("hash-password: the password contains a control character")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(pw), bcryptCost)
	if err != nil { // a password longer than 72 bytes
		return fmt.Errorf("hash-password: %w", err)
	}
	fmt.Fprintf(c.out, "%s\n", hash)
	return nil
}

// help is `wimpctl help [COMMAND]`.
func help(_ context.Context, c *client, args []string) error {
	if len(args) == 0 {
		g, _ := (&globals{}).flagSet()
		writeToolUsage(c.out, g)
		return nil
	}
	cmd, _ := lookup(args[0])
	if cmd == nil {
		return usagef("unknown command %q", args[0])
	}
	cmd.writeUsage(c.out)
	return nil
}
