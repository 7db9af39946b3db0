package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
)

// A command is one wimpctl subcommand. Adding one is a register call in an init function of
// the file that implements it; the tool's usage, its --help and the dispatch all come from
// here.
type command struct {
	name    string
	args    string // the positional arguments, e.g. "ID BOOKMARK"; a word in brackets is optional
	summary string // one line in the tool's usage
	doc     string // what --help says about the command, after its synopsis
	group   string // its section of the tool's usage: one of groups
	offline bool   // runs without a server: no credentials, TLS or endpoint are set up
	// aliases are former names, still accepted with a deprecation note on stderr, never listed.
	aliases []string
	// flags defines the command's own flags on fs and returns what runs the command once fs
	// is parsed. The global flags are added to fs after it, except those the command defines
	// itself (--version is create's, update's, list's and count's definition version).
	flags func(fs *flag.FlagSet) action
}

// An action runs a parsed command with its positional arguments.
type action func(ctx context.Context, c *client, args []string) error

// The sections of the tool's usage, in order.
const (
	groupControl = "MS-WFIM operations (control endpoint; --transacted: the Transacted* variant):"
	groupHosting = "Hosting (hosting endpoint):"
	groupOperate = "Many instances at once (hosting endpoint):"
	groupOffline = "Without a server:"
)

var groups = []string{groupControl, groupHosting, groupOperate, groupOffline}

var (
	commands = map[string]*command{} // by name
	aliases  = map[string]*command{} // by deprecated name
)

// register adds c to the command table. A name used twice, or an unknown group, is a
// programming error caught by any run of the tests.
func register(c *command) {
	for _, n := range append([]string{c.name}, c.aliases...) {
		if commands[n] != nil || aliases[n] != nil {
			panic("wimpctl: command " + n + " registered twice")
		}
	}
	if !slices.Contains(groups, c.group) {
		panic("wimpctl: command " + c.name + " has an unknown group")
	}
	commands[c.name] = c
	for _, a := range c.aliases {
		aliases[a] = c
	}
}

// lookup finds a command by name or deprecated alias (deprecated is then true).
func lookup(name string) (c *command, deprecated bool) {
	if c := commands[name]; c != nil {
		return c, false
	}
	c = aliases[name]
	return c, c != nil
}

// usageError is a command line wimpctl cannot run (exit 64, EX_USAGE); cmd names the
// command whose --help the message points to ("" for the tool's).
type usageError struct{ cmd, msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{msg: fmt.Sprintf(format, a...)} }

// positional returns how many positional arguments c takes: at least least, at most most.
func (c *command) positional() (least, most int) {
	for _, w := range strings.Fields(c.args) {
		if !strings.HasPrefix(w, "[") {
			least++
		}
		most++
	}
	return least, most
}

// parseArgs parses fs's flags and the positional arguments in any order, and checks the
// positional count against c. A -h or --help is flag.ErrHelp.
func (c *command) parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usagef("%s: %v", c.name, err)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if least, most := c.positional(); len(pos) < least || len(pos) > most {
		if most == 0 {
			return nil, usagef("%s takes no arguments, not %q", c.name, strings.Join(pos, " "))
		}
		return nil, usagef("%s takes %s", c.name, c.args)
	}
	return pos, nil
}

// synopsis is the command's usage line without "usage: ".
func (c *command) synopsis() string {
	s := "wimpctl " + c.name
	if c.args != "" {
		s += " " + c.args
	}
	if c.hasFlags() {
		s += " [FLAGS]"
	}
	return s
}

func (c *command) hasFlags() bool {
	n := 0
	c.flagSet().VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// flagSet is a flag set with the command's own flags only.
func (c *command) flagSet() *flag.FlagSet {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	c.flags(fs)
	return fs
}

// writeUsage writes the command's --help.
func (c *command) writeUsage(w io.Writer) {
	fmt.Fprintf(w, "usage: %s\n\n%s\n\nFlags:\n", c.synopsis(), c.doc)
	writeFlags(w, c.flagSet(), "print this command's help")
	if !c.offline {
		fmt.Fprintln(w, "\nThe global flags (--endpoint, --user, ...; see 'wimpctl --help') go before or after the command.")
	}
}

// writeFlags lists fs's flags, one a line (a one-letter flag shares the line of the long flag
// with the same usage text: -o, --output), then -h, --help, which the flag package handles.
func writeFlags(w io.Writer, fs *flag.FlagSet, help string) {
	var all []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) { all = append(all, f) })
	short := map[string]string{} // usage text -> one-letter name
	for _, f := range all {
		if len(f.Name) == 1 {
			short[f.Usage] = f.Name
		}
	}
	tw := newTable(w)
	for _, f := range all {
		if len(f.Name) == 1 {
			continue
		}
		name, usage := flag.UnquoteUsage(f)
		lead := "--" + f.Name
		if s, ok := short[f.Usage]; ok {
			lead = "-" + s + ", " + lead
		}
		if name != "" {
			lead += " " + name
		}
		if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" {
			usage += " (default " + f.DefValue + ")"
		}
		tw.row("  "+lead, usage)
	}
	tw.row("  -h, --help", help)
	tw.flush()
}

// writeToolUsage writes wimpctl's --help: the commands by group, the global flags of g, the
// environment and the exit status.
func writeToolUsage(w io.Writer, g *flag.FlagSet) {
	fmt.Fprint(w, `usage: wimpctl [GLOBAL FLAGS] COMMAND [ARGS] [FLAGS]

wimpctl administers a wimp server: MS-WFIM operations on its control endpoint, and instance
creation, bookmark resumption, queries and tracking records on its hosting endpoint.
`)
	for _, grp := range groups {
		var cs []*command
		for _, c := range commands {
			if c.group == grp {
				cs = append(cs, c)
			}
		}
		sort.Slice(cs, func(i, j int) bool { return cs[i].name < cs[j].name })
		fmt.Fprintf(w, "\n%s\n", grp)
		tw := newTable(w)
		for _, c := range cs {
			tw.row("  "+strings.TrimSpace(c.name+" "+c.args), c.summary)
		}
		tw.flush()
	}
	fmt.Fprintln(w, "\nGlobal flags (before or after the command; after it, --version is the command's own flag):")
	writeFlags(w, g, "print this help; after a command, that command's")
	fmt.Fprint(w, `
Environment: $WIMP_ENDPOINT, $WIMP_USER and $WIMP_PASSWORD (the password when there is no
--password-file).

Exit status: 0 success; 1 transport or server error (connection, TLS, HTTP, an unreadable
reply or file); 2 SOAP fault (its code, subcodes and reason on stderr); 64 usage error.

Run 'wimpctl COMMAND --help' for a command's flags.
`)
}
