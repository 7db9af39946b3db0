// Command wimpctl administers a wimp server: the MS-WFIM operations through the control
// endpoint, and instance creation, bookmark resumption and reads through the hosting endpoint.
//
//	wimpctl [--endpoint http://127.0.0.1:8080] [--soap 1.1|1.2] [--timeout 30s]
//	        [--user NAME [--password-file FILE] [--auth basic|wsse]]
//	        [--ca FILE] [--cert FILE --key FILE] COMMAND ...
//
// With --user (or $WIMP_USER) every request carries the user's credentials, as HTTP Basic or as
// a WS-Security UsernameToken (--auth wsse); the password is the first line of --password-file,
// or $WIMP_PASSWORD, never a flag's value. --ca, --cert and --key set up TLS (1.2 or later) for
// an https:// endpoint. `wimpctl hash-password` reads a password on stdin and prints its bcrypt
// hash, for the server's users file; it does not contact the server.
//
// Values that come from the server are printed with their control characters escaped (see
// printable). A SOAP fault prints its code, subcode and reason on stderr and exits 2; other
// errors, usage errors included, exit 1.
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

	"golang.org/x/crypto/bcrypt"

	"github.com/wimp-project/wimp/soap"
)

const usage = `usage: wimpctl [--endpoint URL] [--soap 1.1|1.2] [--timeout D]
               [--user NAME [--password-file FILE] [--auth basic|wsse]]
               [--ca FILE] [--cert FILE --key FILE] COMMAND [ARGS]

MS-WFIM operations (add --transacted for the Transacted* variant where one exists):
  run ID                     suspend ID --reason R       unsuspend ID
  cancel ID                  terminate ID [--reason R]   abandon ID [--reason R]
  update ID --name N [--package P] [--version V]   (no --name: send a nil identity)
Hosting:
  create --definition NAME [--version V] [--id GUID] [--input key=value]...   prints the id
  resume ID BOOKMARK [--payload JSON]
  get ID [--json]            track ID [--json]            definitions [--json]
  list [FILTER] [--limit N] [--page-token T | --all] [--json]
                             one page (--limit, default 100, at most 1000); the next page's
                             token is printed on stderr; --all follows every page
  count [FILTER] [--by state|definition|exception] [--json]
FILTER (all optional, ANDed): --state S  --completion C (names in any case)
  --definition NAME  --package P  --version V  --version-min V  --version-max V
  --exception NAME  --reason-contains TEXT  --bookmark NAME
  --created-after T  --created-before T  --updated-after T  --updated-before T
  (T: an RFC 3339 time, or a duration such as 24h meaning that long ago; bounds exclusive)
Offline:
  hash-password              reads a password (stdin's first line), prints its bcrypt hash

--endpoint defaults to $WIMP_ENDPOINT or http://127.0.0.1:8080, --user to $WIMP_USER.
The password is the first line of --password-file FILE, else $WIMP_PASSWORD.
--auth basic sends HTTP Basic, --auth wsse a WS-Security UsernameToken (PasswordText).
--ca is a PEM bundle of the CAs that verify the server; --cert/--key a client certificate.
`

// bcryptCost is the cost of the hashes hash-password prints.
const bcryptCost = 12

// maxSecretLine bounds the line a password is read from (bcrypt itself takes 72 bytes).
const maxSecretLine = 4096

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes one command line and returns the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	g := flag.NewFlagSet("wimpctl", flag.ContinueOnError)
	g.SetOutput(stderr)
	g.Usage = func() { fmt.Fprint(stderr, usage) }
	endpoint := g.String("endpoint", envOr("WIMP_ENDPOINT", "http://127.0.0.1:8080"), "server base URL")
	version := g.String("soap", "1.1", "SOAP version: 1.1 or 1.2")
	timeout := g.Duration("timeout", 30*time.Second, "request timeout")
	user := g.String("user", os.Getenv("WIMP_USER"), "user name")
	passwordFile := g.String("password-file", "", "file whose first line is the password")
	authMode := g.String("auth", "basic", "how credentials are sent: basic or wsse")
	caFile := g.String("ca", "", "PEM file of the CAs that verify the server")
	certFile := g.String("cert", "", "client certificate (PEM)")
	keyFile := g.String("key", "", "client certificate's private key (PEM)")
	if err := g.Parse(args); err != nil {
		return 1
	}
	if g.NArg() == 0 {
		g.Usage()
		return 1
	}
	if g.Arg(0) == "hash-password" {
		return hashPassword(g.Args()[1:], stdin, stdout, stderr)
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
	creds, err := credentials(*user, *passwordFile, *authMode)
	if err != nil {
		fmt.Fprintf(stderr, "wimpctl: %s\n", printable(err.Error()))
		return 1
	}
	hc, err := httpClient(*caFile, *certFile, *keyFile)
	if err != nil {
		fmt.Fprintf(stderr, "wimpctl: %s\n", printable(err.Error()))
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	c := newClient(strings.TrimRight(*endpoint, "/"), v, hc, creds, stdout, stderr)
	err = c.dispatch(ctx, g.Arg(0), g.Args()[1:])
	var f *soap.Fault
	switch {
	case err == nil:
		return 0
	case errors.As(err, &f):
		fmt.Fprintf(stderr, "fault: code=%s subcode=%s\nreason: %s\n", f.Code, subcodes(f), printable(f.Reason))
		return 2
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "wimpctl: %s\n\n%s", printable(err.Error()), usage)
		return 1
	default:
		fmt.Fprintf(stderr, "wimpctl: %s\n", printable(err.Error()))
		return 1
	}
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
		return nil, fmt.Errorf("--auth must be basic or wsse, not %q", mode)
	}
	if user == "" {
		if passwordFile != "" {
			return nil, errors.New("--password-file needs --user (or $WIMP_USER)")
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
		return nil, fmt.Errorf("--user %s needs a password: set $WIMP_PASSWORD or pass --password-file FILE", user)
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
		return nil, errors.New("--cert and --key go together: pass both or neither")
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

// hashPassword is `wimpctl hash-password`: the bcrypt hash of the password on stdin's first line.
func hashPassword(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) != 0 {
		fmt.Fprintf(stderr, "wimpctl: hash-password takes no arguments (it reads the password on stdin)\n\n%s", usage)
		return 1
	}
	pw, err := readSecretLine(stdin)
	if err != nil {
		fmt.Fprintf(stderr, "wimpctl: hash-password: reading stdin: %v\n", err)
		return 1
	}
	switch {
	case pw == "":
		fmt.Fprintln(stderr, "wimpctl: hash-password: the password is empty (stdin's first line)")
		return 1
	case strings.ContainsFunc(pw, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		// Neither HTTP Basic (RFC 7617) nor wimpctl can send such a password.
		fmt.Fprintln(stderr, "wimpctl: hash-password: the password contains a control character")
		return 1
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(pw), bcryptCost)
	if err != nil { // a password longer than 72 bytes
		fmt.Fprintf(stderr, "wimpctl: hash-password: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s\n", hash)
	return 0
}
func subcodes(f *soap.Fault) string {
	if len(f.Subcodes) == 0 {
		return "(none)"
	}
	parts := make([]string, len(f.Subcodes))
	for i, q := range f.Subcodes {
		parts[i] = printable("{" + q.Space + "}" + q.Local)
	}
	return strings.Join(parts, " / ")
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
