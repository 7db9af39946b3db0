// Command wimpctl administers a wimp server: the MS-WFIM operations through the control
// endpoint, and instance creation, bookmark resumption, queries and tracking records through
// the hosting endpoint.
//
//	wimpctl [GLOBAL FLAGS] COMMAND [ARGS] [FLAGS]
//	wimpctl --help | --version
//	wimpctl COMMAND --help
//
// The global flags (--endpoint URL, --soap 1.1|1.2, --timeout D, --user NAME, --password-file
// FILE, --auth basic|wsse, --ca FILE, --cert FILE, --key FILE) go before or after the command;
// after it, --version is the command's own flag where it has one (create, update, list, count:
// a definition version), and the tool's --version is taken before the command only. --help or
// -h prints the tool's or the command's usage on stdout and exits 0.
//
// With --user (or $WIMP_USER) every request carries the user's credentials, as HTTP Basic or as
// a WS-Security UsernameToken (--auth wsse); the password is the first line of --password-file,
// or $WIMP_PASSWORD, never a flag's value. --ca, --cert and --key set up TLS (1.2 or later) for
// an https:// endpoint. `wimpctl hash-password` reads a password on stdin and prints its bcrypt
// hash, for the server's users file; it does not contact the server.
//
// Commands that print what they read take -o table (aligned columns, the default), -o json
// (--json is its synonym) or -o wide (more columns). Values that come from the server are
// printed in tables with their control characters escaped (see printable).
//
// Exit status: 0 success; 1 transport or server error (connection, TLS, HTTP status, an
// unreadable reply, a file that cannot be read); 2 SOAP fault, printed on stderr as one line
// with its code, subcodes and reason; 64 usage error (EX_USAGE of sysexits.h). Every error is
// one line on stderr.
//
// Each command is registered (see command, in cli.go) in the file that implements it.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/wimp-project/wimp/internal/buildinfo"
	"github.com/wimp-project/wimp/soap"
)

// Exit statuses (README, wimpctl).
const (
	exitOK    = 0
	exitError = 1  // transport or server error
	exitFault = 2  // SOAP fault
	exitUsage = 64 // EX_USAGE
)

// maxSecretLine bounds the line a password is read from (bcrypt itself takes 72 bytes).
const maxSecretLine = 4096

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// globals are the flags every command takes, before or after its name.
type globals struct {
	endpoint, soap, user, passwordFile, auth, ca, cert, key string
	timeout                                                 time.Duration
}

// flagSet returns the flag set of what comes before the command: the global flags, and
// --version.
func (o *globals) flagSet() (g *flag.FlagSet, version *bool) {
	g = flag.NewFlagSet("wimpctl", flag.ContinueOnError)
	g.SetOutput(io.Discard)
	o.register(g)
	return g, g.Bool("version", false, "print wimpctl's version and exit (before the command)")
}

func (o *globals) register(fs *flag.FlagSet) {
	fs.StringVar(&o.endpoint, "endpoint", envOr("WIMP_ENDPOINT", "http://127.0.0.1:8080"), "the server's base `URL` ($WIMP_ENDPOINT)")
	fs.StringVar(&o.soap, "soap", "1.1", "SOAP `VERSION`: 1.1 or 1.2")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "each request's time limit `D` (0: none)")
	fs.StringVar(&o.user, "user", os.Getenv("WIMP_USER"), "send this user `NAME`'s credentials ($WIMP_USER)")
	fs.StringVar(&o.passwordFile, "password-file", "", "the password is this `FILE`'s first line (else $WIMP_PASSWORD)")
	fs.StringVar(&o.auth, "auth", "basic", "how credentials are sent, `MODE` basic (HTTP Basic) or wsse (a WS-Security UsernameToken)")
	fs.StringVar(&o.ca, "ca", "", "PEM `FILE` of the CAs that verify the server (instead of the system's)")
	fs.StringVar(&o.cert, "cert", "", "client certificate, a PEM `FILE` (with --key)")
	fs.StringVar(&o.key, "key", "", "the client certificate's private key, a PEM `FILE`")
}

// run executes one command line and returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var o globals
	g, version := o.flagSet()
	switch err := g.Parse(args); {
	case errors.Is(err, flag.ErrHelp):
		writeToolUsage(stdout, g)
		return exitOK
	case err != nil:
		return report(stderr, usagef("%v", err))
	}
	if *version {
		fmt.Fprintln(stdout, buildinfo.VersionLine("wimpctl"))
		return exitOK
	}
	if g.NArg() == 0 {
		writeToolUsage(stderr, g)
		return exitUsage
	}
	cmd, deprecated := lookup(g.Arg(0))
	if cmd == nil {
		return report(stderr, usagef("unknown command %q", g.Arg(0)))
	}
	if deprecated {
		fmt.Fprintf(stderr, "wimpctl: %s is deprecated; use %s\n", g.Arg(0), cmd.name)
	}
	fs := flag.NewFlagSet(cmd.name, flag.ContinueOnError)
	act := cmd.flags(fs)
	g.VisitAll(func(f *flag.Flag) {
		if f.Name != "version" && fs.Lookup(f.Name) == nil {
			fs.Var(f.Value, f.Name, f.Usage) // the same Value: set before or after the command alike
		}
	})
	pos, err := cmd.parseArgs(fs, g.Args()[1:])
	switch {
	case errors.Is(err, flag.ErrHelp):
		cmd.writeUsage(stdout)
		return exitOK
	case err != nil:
		return report(stderr, forCommand(cmd, err))
	}
	c := &client{in: stdin, out: stdout, errOut: stderr}
	if !cmd.offline {
		if err := c.connect(o); err != nil {
			return report(stderr, forCommand(cmd, err))
		}
	}
	return report(stderr, forCommand(cmd, act(context.Background(), c, pos)))
}

// forCommand points a usage error at cmd's --help.
func forCommand(cmd *command, err error) error {
	var u *usageError
	if errors.As(err, &u) && u.cmd == "" {
		u.cmd = cmd.name
	}
	return err
}

// report prints err, if any, as one line on stderr and returns the exit status.
func report(stderr io.Writer, err error) int {
	var f *soap.Fault
	var u *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &f):
		fmt.Fprintf(stderr, "wimpctl: fault (%s): %s\n", faultCodes(f), printable(tidyReason(f.Reason)))
		return exitFault
	case errors.As(err, &u):
		help := "wimpctl --help"
		if u.cmd != "" {
			help = "wimpctl " + u.cmd + " --help"
		}
		fmt.Fprintf(stderr, "wimpctl: %s (see '%s')\n", printable(u.msg), help)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "wimpctl: %s\n", printable(err.Error()))
		return exitError
	}
}

// faultCodes is a fault's code and subcodes, e.g. Sender {urn:...}DefinitionNotFound.
func faultCodes(f *soap.Fault) string {
	parts := []string{f.Code.String()}
	for _, q := range f.Subcodes {
		parts = append(parts, printable("{"+q.Space+"}"+q.Local))
	}
	return strings.Join(parts, " ")
}

// tidyReason drops from a fault reason a message repeated after a Go package name, as in
// "definition not found: engine: definition not found: Nope": the server wraps its engine's
// error in its own of the same kind (host.Error's Kind, then its Detail). Other text stays.
func tidyReason(reason string) string {
	parts := strings.Split(reason, ": ")
	seen := map[string]bool{}
	out := parts[:0:0]
	for i := 0; i < len(parts); i++ {
		if i+1 < len(parts) && isPackageName(parts[i]) && seen[parts[i+1]] {
			i++ // the package name and the message it repeats
			continue
		}
		seen[parts[i]] = true
		out = append(out, parts[i])
	}
	return strings.Join(out, ": ")
}

// isPackageName reports whether s looks like a Go package name, the prefix of its errors.
func isPackageName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') {
			return false
		}
	}
	return s[0] >= 'a'
}

// connect sets up both endpoints' clients from the global flags.
func (c *client) connect(o globals) error {
	v := soap.V11
	switch o.soap {
	case "1.1":
	case "1.2":
		v = soap.V12
	default:
		return usagef("--soap must be 1.1 or 1.2, not %q", o.soap)
	}
	if o.timeout < 0 {
		return usagef("--timeout must not be negative")
	}
	creds, err := credentials(o.user, o.passwordFile, o.auth)
	if err != nil {
		return err
	}
	hc, err := httpClient(o.ca, o.cert, o.key)
	if err != nil {
		return err
	}
	hc.Timeout = o.timeout
	c.setEndpoints(strings.TrimRight(o.endpoint, "/"), v, hc, creds)
	return nil
}

// credentials returns the credentials the flags and environment name (nil without a user).
// The password is never a flag's value (it would show in ps and in shell histories): it is
// the first line of passwordFile, or $WIMP_PASSWORD.
func credentials(user, passwordFile, mode string) (*soap.Credentials, error) {
	var wsse bool
	switch mode {
	case "basic":
	case "wsse":
		wsse = true
	default:
		return nil, usagef("--auth must be basic or wsse, not %q", mode)
	}
	if user == "" {
		if passwordFile != "" {
			return nil, usagef("--password-file needs --user (or $WIMP_USER)")
		}
		return nil, nil
	}
	var password string
	switch {
	case passwordFile != "":
		f, err := os.Open(passwordFile)
		if err != nil {
			return nil, fmt.Errorf("--password-file: %w", err)
		}
		defer f.Close()
		if password, err = readSecretLine(f); err != nil {
			return nil, fmt.Errorf("--password-file %s: %w", passwordFile, err)
		}
	case os.Getenv("WIMP_PASSWORD") != "":
		password = os.Getenv("WIMP_PASSWORD")
	default:
		return nil, usagef("--user %s needs a password: set $WIMP_PASSWORD or pass --password-file FILE", user)
	}
	if password == "" {
		return nil, fmt.Errorf("--password-file %s: the password (its first line) is empty", passwordFile)
	}
	return &soap.Credentials{Username: user, Password: password, WSSE: wsse}, nil
}

// readSecretLine reads the first line of r without its line ending (\n or \r\n).
func readSecretLine(r io.Reader) (string, error) {
	line, err := bufio.NewReaderSize(io.LimitReader(r, maxSecretLine+2), maxSecretLine+2).ReadBytes('\n')
	if err != nil && err != io.EOF {
		return "", err
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	if len(line) > maxSecretLine {
		return "", fmt.Errorf("the first line is longer than %d bytes", maxSecretLine)
	}
	return string(line), nil
}

// httpClient returns the HTTP client of both endpoints: TLS 1.2 or later, verified against the
// CAs in caFile (the system's when empty), with the client certificate certFile/keyFile if
// given. It follows no redirects: a SOAP endpoint has no reason to send one, and following it
// could send the credentials somewhere else, or over plain HTTP.
func httpClient(caFile, certFile, keyFile string) (*http.Client, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("--ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca %s: no PEM certificate in the file", caFile)
		}
		cfg.RootCAs = pool
	}
	if (certFile == "") != (keyFile == "") {
		return nil, usagef("--cert and --key go together: pass both or neither")
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("--cert/--key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = cfg
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
