// Command wimpctl administers a wimp server: the MS-WFIM operations through the control
// endpoint, and instance creation, bookmark resumption and reads through the hosting endpoint.
//
//	wimpctl [--endpoint http://127.0.0.1:8080] [--soap 1.1|1.2] [--timeout 30s] COMMAND ...
//
// A SOAP fault prints its code, subcode and reason on stderr and exits 2; other errors exit 1.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/wimp-project/wimp/soap"
)

const usage = `usage: wimpctl [--endpoint URL] [--soap 1.1|1.2] [--timeout D] COMMAND [ARGS]

MS-WFIM operations (add --transacted for the Transacted* variant where one exists):
  run ID                     suspend ID --reason R       unsuspend ID
  cancel ID                  terminate ID [--reason R]   abandon ID [--reason R]
  update ID --name N [--package P] [--version V]   (no --name: send a nil identity)
Hosting:
  create --definition NAME [--version V] [--id GUID] [--input key=value]...   prints the id
  resume ID BOOKMARK [--payload JSON]
  get ID [--json]            list [--state S] [--limit N] [--json]            track ID [--json]

--endpoint defaults to $WIMP_ENDPOINT or http://127.0.0.1:8080.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command line and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	g := flag.NewFlagSet("wimpctl", flag.ContinueOnError)
	g.SetOutput(stderr)
	g.Usage = func() { fmt.Fprint(stderr, usage) }
	endpoint := g.String("endpoint", envOr("WIMP_ENDPOINT", "http://127.0.0.1:8080"), "server base URL")
	version := g.String("soap", "1.1", "SOAP version: 1.1 or 1.2")
	timeout := g.Duration("timeout", 30*time.Second, "request timeout")
	if err := g.Parse(args); err != nil {
		return 1
	}
	if g.NArg() == 0 {
		g.Usage()
		return 1
	}
	v := soap.V11
	switch *version {
	case "1.1":
	case "1.2":
		v = soap.V12
	default:
		fmt.Fprintf(stderr, "wimpctl: --soap must be 1.1 or 1.2, not %q\n", *version)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	c := newClient(strings.TrimRight(*endpoint, "/"), v, stdout)
	err := c.dispatch(ctx, g.Arg(0), g.Args()[1:])
	var f *soap.Fault
	switch {
	case err == nil:
		return 0
	case errors.As(err, &f):
		fmt.Fprintf(stderr, "fault: code=%s subcode=%s\nreason: %s\n", f.Code, subcodes(f), f.Reason)
		return 2
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "wimpctl: %v\n\n%s", err, usage)
		return 1
	default:
		fmt.Fprintf(stderr, "wimpctl: %v\n", err)
		return 1
	}
}

func subcodes(f *soap.Fault) string {
	if len(f.Subcodes) == 0 {
		return "(none)"
	}
	parts := make([]string, len(f.Subcodes))
	for i, q := range f.Subcodes {
		parts[i] = "{" + q.Space + "}" + q.Local
	}
	return strings.Join(parts, " / ")
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
