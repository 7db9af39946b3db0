// Package conformance replays recorded MS-WFIM message exchanges against a server and checks
// its replies. A scenario file (testdata/exchanges/*.txt) holds, in sections:
//
//	free text: what the scenario shows and why the reply is the right one
//	-- setup --    one line per instance to create first: ID STATE [definition=NAME@VERSION] [reason="R"]
//	               STATE: Active, Suspended, Closed, Canceled or Terminated; ids not set up are unknown
//	-- request --  a raw HTTP request (headers may use LF; the body is exactly Content-Length bytes),
//	               or the line "file: PATH" naming a byte-exact capture relative to the scenario file
//	-- reply --    "HTTP STATUS", then "Content-Type: ..." and a blank line, then the expected envelope
//	-- after --    optional: ID STATE [completion=C] [reason="R"] [version=V] checked through GetInstance
//
// Every instance id of a scenario is replaced by a fresh one when it runs (in all its spellings),
// so a suite can run repeatedly against one server. In the expected envelope, text may be
// {{any}} (any non-empty text) or {{messageID}} (the request's wsa:MessageID); QName-valued
// text and attributes are compared by namespace and local name, not prefix.
package conformance

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Scenario is one recorded exchange.
type Scenario struct {
	Name        string
	Description string
	Setup       []Instance
	Request     []byte // raw HTTP request
	Status      int
	ContentType string
	Reply       []byte // expected envelope
	After       []Expect
}

// Instance is a setup line.
type Instance struct {
	ID, State, Definition, Version, Reason string
}

// Expect is an after line.
type Expect struct {
	ID, State, Completion, Version string
	Reason                         *string
}

// Load reads every *.txt scenario in dir.
func Load(dir string) ([]*Scenario, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil {
		return nil, err
	}
	var out []*Scenario
	for _, f := range files {
		sc, err := ParseFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, sc)
	}
	return out, nil
}

// ParseFile reads one scenario file.
func ParseFile(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	sc, err := Parse(strings.TrimSuffix(filepath.Base(path), ".txt"), data, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return sc, nil
}

// Parse reads a scenario; dir resolves "file:" requests.
func Parse(name string, data []byte, dir string) (*Scenario, error) {
	sections := map[string][]byte{}
	order := []string{""}
	cur := ""
	for _, line := range bytes.SplitAfter(data, []byte("\n")) {
		t := strings.TrimRight(string(line), "\r\n")
		if strings.HasPrefix(t, "-- ") && strings.HasSuffix(t, " --") && len(t) > 6 {
			cur = strings.TrimSpace(t[3 : len(t)-3])
			if _, dup := sections[cur]; dup {
				return nil, fmt.Errorf("section %q appears twice", cur)
			}
			sections[cur] = []byte{}
			order = append(order, cur)
			continue
		}
		sections[cur] = append(sections[cur], line...)
	}
	for _, s := range order[1:] {
		switch s {
		case "setup", "request", "reply", "after":
		default:
			return nil, fmt.Errorf("unknown section %q", s)
		}
	}
	sc := &Scenario{Name: name, Description: strings.TrimSpace(string(sections[""]))}
	for _, l := range lines(sections["setup"]) {
		f, kv, err := fields(l)
		if err != nil || len(f) != 2 {
			return nil, fmt.Errorf("setup line %q: want ID STATE [definition=N@V] [reason=\"R\"]", l)
		}
		in := Instance{ID: f[0], State: f[1]}
		if d, ok := kv["definition"]; ok {
			in.Definition, in.Version, _ = strings.Cut(*d, "@")
		}
		if r, ok := kv["reason"]; ok {
			in.Reason = *r
		}
		switch in.State {
		case "Active", "Suspended", "Closed", "Canceled", "Terminated":
		default:
			return nil, fmt.Errorf("setup line %q: unknown state %q", l, in.State)
		}
		sc.Setup = append(sc.Setup, in)
	}
	req := sections["request"]
	if len(bytes.TrimSpace(req)) == 0 {
		return nil, fmt.Errorf("no request")
	}
	if ref, ok := strings.CutPrefix(strings.TrimSpace(string(req)), "file: "); ok {
		b, err := os.ReadFile(filepath.Join(dir, strings.TrimSpace(ref)))
		if err != nil {
			return nil, fmt.Errorf("request file: %w", err)
		}
		req = b
	} else {
		req = normalizeRequest(req)
	}
	sc.Request = req

	reply := sections["reply"]
	head, body, _ := bytes.Cut(reply, []byte("\n\n"))
	hl := lines(head)
	if len(hl) < 1 {
		return nil, fmt.Errorf("reply: want an HTTP status line")
	}
	st, ok := strings.CutPrefix(hl[0], "HTTP ")
	var err error
	if sc.Status, err = strconv.Atoi(strings.TrimSpace(st)); !ok || err != nil {
		return nil, fmt.Errorf("reply: bad status line %q", hl[0])
	}
	for _, h := range hl[1:] {
		k, v, ok := strings.Cut(h, ":")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "Content-Type") {
			return nil, fmt.Errorf("reply: only Content-Type may be given, not %q", h)
		}
		sc.ContentType = strings.TrimSpace(v)
	}
	sc.Reply = bytes.TrimSpace(body)

	for _, l := range lines(sections["after"]) {
		f, kv, err := fields(l)
		if err != nil || len(f) != 2 {
			return nil, fmt.Errorf("after line %q: want ID STATE [completion=C] [reason=\"R\"] [version=V]", l)
		}
		e := Expect{ID: f[0], State: f[1], Reason: kv["reason"]}
		if c := kv["completion"]; c != nil {
			e.Completion = *c
		}
		if v := kv["version"]; v != nil {
			e.Version = *v
		}
		sc.After = append(sc.After, e)
	}
	return sc, nil
}

// normalizeRequest turns an inline request's header lines into CRLF lines and cuts the body to
// its Content-Length (the file's final newline is not part of the body).
func normalizeRequest(b []byte) []byte {
	b = bytes.TrimLeft(b, "\r\n")
	head, body, _ := bytes.Cut(b, []byte("\n\n"))
	var out bytes.Buffer
	n := -1
	for _, l := range lines(head) {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(strings.TrimSpace(k), "Content-Length") {
			n, _ = strconv.Atoi(strings.TrimSpace(v))
		}
		out.WriteString(l + "\r\n")
	}
	out.WriteString("\r\n")
	if n >= 0 && n <= len(body) {
		body = body[:n]
	}
	out.Write(body)
	return out.Bytes()
}

func lines(b []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if t := strings.TrimSpace(sc.Text()); t != "" && !strings.HasPrefix(t, "#") {
			out = append(out, t)
		}
	}
	return out
}

// fields splits a line into bare words and key=value / key="quoted value" pairs.
func fields(l string) ([]string, map[string]*string, error) {
	var words []string
	kv := map[string]*string{}
	for l = strings.TrimSpace(l); l != ""; l = strings.TrimSpace(l) {
		end := strings.IndexAny(l, " \t")
		if end < 0 {
			end = len(l)
		}
		tok := l[:end]
		if k, v, ok := strings.Cut(tok, "="); ok {
			if strings.HasPrefix(v, `"`) {
				q, err := strconv.QuotedPrefix(l[len(k)+1:])
				if err != nil {
					return nil, nil, err
				}
				s, _ := strconv.Unquote(q)
				kv[k] = &s
				l = l[len(k)+1+len(q):]
				continue
			}
			kv[k] = &v
		} else {
			words = append(words, tok)
		}
		l = l[end:]
	}
	return words, kv, nil
}
