package conformance

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/hosting"
	"github.com/wimp-project/wimp/protocol"
	"github.com/wimp-project/wimp/soap"
)

// Runner replays scenarios against a server. Setup uses the server's hosting endpoint
// (CreateWithInstanceId) and its control endpoint (Suspend, Cancel, Terminate), so any server
// offering both contracts can be qualified.
type Runner struct {
	// Base is the server's base URL, e.g. http://127.0.0.1:8080.
	Base string
	// ControlPath and HostingPath default to /WorkflowControl and /WorkflowHosting.
	ControlPath, HostingPath string
	Timeout                  time.Duration // per exchange; default 10s
}

// Default definitions for set-up instances: a waiting workflow, and one that completes at once.
const (
	waitingDefinition   = "OrderProcessing@2.0.0.0"
	completesDefinition = "Hello"
)

// Run sets up the scenario's instances, replays its request and checks the reply and the
// instances afterwards. The error explains the first difference.
func (r *Runner) Run(ctx context.Context, sc *Scenario) error {
	timeout := r.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ids := map[string]uuid.UUID{}
	for _, in := range sc.Setup {
		orig, err := protocol.ParseGUID(in.ID)
		if err != nil {
			return fmt.Errorf("setup id %q: %v", in.ID, err)
		}
		fresh := uuid.New()
		ids[orig.String()] = fresh
		if err := r.setup(ctx, fresh, in); err != nil {
			return fmt.Errorf("setup of %s (%s): %w", in.ID, in.State, err)
		}
	}
	req := substitute(sc.Request, ids)
	status, ctype, body, err := r.send(ctx, req)
	if err != nil {
		return err
	}
	if status != sc.Status {
		return fmt.Errorf("HTTP status %d, want %d; reply:\n%s", status, sc.Status, body)
	}
	if sc.ContentType != "" && !sameMediaType(ctype, sc.ContentType) {
		return fmt.Errorf("Content-Type %q, want %q", ctype, sc.ContentType)
	}
	if d := compareXML(sc.Reply, body, requestMessageID(req)); d != "" {
		return fmt.Errorf("reply differs: %s\nreply:\n%s", d, body)
	}
	for _, e := range sc.After {
		if err := r.check(ctx, e, ids); err != nil {
			return err
		}
	}
	return nil
}

func (r *Runner) url(path, def string) string {
	if path == "" {
		path = def
	}
	return strings.TrimRight(r.Base, "/") + path
}

func (r *Runner) hosting() *hosting.Client {
	return hosting.NewClient(r.url(r.HostingPath, "/WorkflowHosting"))
}

func (r *Runner) setup(ctx context.Context, id uuid.UUID, in Instance) error {
	def := in.Definition
	if def == "" {
		def, in.Version, _ = strings.Cut(waitingDefinition, "@")
		if in.State == "Closed" {
			def, in.Version = completesDefinition, ""
		}
	}
	if _, err := r.hosting().Create(ctx, host.CreateRequest{Definition: def, Version: in.Version, ID: id}); err != nil {
		return err
	}
	var op, reason string
	switch in.State {
	case "Suspended":
		op, reason = "Suspend", in.Reason
		if reason == "" {
			reason = "set up suspended"
		}
	case "Canceled":
		op = "Cancel"
	case "Terminated":
		op, reason = "Terminate", in.Reason
	}
	if op != "" {
		if err := r.control(ctx, op, id, reason); err != nil {
			return err
		}
	}
	got, err := r.hosting().GetInstance(ctx, id)
	if err != nil {
		return err
	}
	want := map[string]string{"Active": "Active/", "Suspended": "Suspended/", "Closed": "Completed/Closed",
		"Canceled": "Completed/Canceled", "Terminated": "Completed/Terminated"}[in.State]
	if have := string(got.State) + "/" + got.Completion; have != want {
		return fmt.Errorf("instance is %s after set-up, want %s", have, want)
	}
	return nil
}

func (r *Runner) control(ctx context.Context, opName string, id uuid.UUID, reason string) error {
	op, _ := protocol.OpByName(opName)
	c := &soap.Client{URL: r.url(r.ControlPath, "/WorkflowControl")}
	_, err := c.Call(ctx, op.Action(), protocol.Encode(protocol.Command{Op: op, InstanceID: id, Reason: &reason}))
	return err
}

func (r *Runner) check(ctx context.Context, e Expect, ids map[string]uuid.UUID) error {
	orig, err := protocol.ParseGUID(e.ID)
	if err != nil {
		return fmt.Errorf("after id %q: %v", e.ID, err)
	}
	id, ok := ids[orig.String()]
	if !ok {
		id = orig
	}
	got, err := r.hosting().GetInstance(ctx, id)
	var f *soap.Fault
	if e.State == "Unknown" {
		if errors.As(err, &f) && len(f.Subcodes) > 0 && f.Subcodes[0].Local == "InstanceNotFound" {
			return nil
		}
		return fmt.Errorf("after: %s should be unknown, got %v, %v", e.ID, got, err)
	}
	if err != nil {
		return fmt.Errorf("after: reading %s: %w", e.ID, err)
	}
	if string(got.State) != e.State || got.Completion != e.Completion {
		return fmt.Errorf("after: %s is %s/%s, want %s/%s", e.ID, got.State, got.Completion, e.State, e.Completion)
	}
	if e.Reason != nil && got.SuspensionReason != *e.Reason && got.CompletionReason != *e.Reason {
		return fmt.Errorf("after: %s has reason %q (suspension) / %q (completion), want %q", e.ID,
			got.SuspensionReason, got.CompletionReason, *e.Reason)
	}
	if e.Version != "" && got.Definition.Version != e.Version {
		return fmt.Errorf("after: %s has definition version %q, want %q", e.ID, got.Definition.Version, e.Version)
	}
	return nil
}

// send writes the raw request to the control endpoint over a fresh connection, with the
// request target and Host rewritten to the endpoint's, and reads the reply.
func (r *Runner) send(ctx context.Context, raw []byte) (int, string, []byte, error) {
	u, err := url.Parse(r.url(r.ControlPath, "/WorkflowControl"))
	if err != nil {
		return 0, "", nil, err
	}
	raw = retarget(raw, u)
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return 0, "", nil, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if _, err := conn.Write(raw); err != nil {
		return 0, "", nil, err
	}
	br := bufio.NewReader(conn)
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return 0, "", nil, fmt.Errorf("reading the reply: %w", err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return 0, "", nil, err
		}
		if resp.StatusCode == http.StatusContinue {
			continue
		}
		return resp.StatusCode, resp.Header.Get("Content-Type"), body, nil
	}
}

// retarget rewrites the request line's target and the Host header (same bytes otherwise).
func retarget(raw []byte, u *url.URL) []byte {
	head, body, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
	ls := strings.Split(string(head), "\r\n")
	if f := strings.Fields(ls[0]); len(f) == 3 {
		ls[0] = f[0] + " " + u.RequestURI() + " " + f[2]
	}
	for i := 1; i < len(ls); i++ {
		if k, _, ok := strings.Cut(ls[i], ":"); ok && strings.EqualFold(k, "Host") {
			ls[i] = k + ": " + u.Host
		}
	}
	return append([]byte(strings.Join(ls, "\r\n")+"\r\n\r\n"), body...)
}

var guidPattern = regexp.MustCompile(`(?i)\{\s*0x[0-9a-f]{1,8}\s*,\s*0x[0-9a-f]{1,4}\s*,\s*0x[0-9a-f]{1,4}\s*,\s*\{(?:\s*0x[0-9a-f]{1,2}\s*,){7}\s*0x[0-9a-f]{1,2}\s*\}\s*\}|[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}`)

// substitute replaces each set-up id by its fresh id, keeping the spelling (case, dashes) of
// every occurrence so byte lengths, and so Content-Length, stay right.
func substitute(b []byte, ids map[string]uuid.UUID) []byte {
	return guidPattern.ReplaceAllFunc(b, func(m []byte) []byte {
		orig, err := protocol.ParseGUID(string(m))
		if err != nil {
			return m
		}
		fresh, ok := ids[orig.String()]
		if !ok {
			return m
		}
		s := fresh.String()
		switch {
		case m[0] == '{' && bytes.Contains(m, []byte(",")):
			// The X form, written at full width so lengths (and Content-Length) stay right.
			s = fmt.Sprintf("{0x%x,0x%x,0x%x,{0x%02x,0x%02x,0x%02x,0x%02x,0x%02x,0x%02x,0x%02x,0x%02x}}",
				fresh[0:4], fresh[4:6], fresh[6:8], fresh[8], fresh[9], fresh[10], fresh[11], fresh[12], fresh[13], fresh[14], fresh[15])
		case !bytes.Contains(m, []byte("-")):
			s = strings.ReplaceAll(s, "-", "")
		}
		if bytes.Equal(bytes.ToUpper(m), m) {
			s = strings.ToUpper(s)
		}
		return []byte(s)
	})
}

var messageIDPattern = regexp.MustCompile(`<(?:[A-Za-z_][\w.-]*:)?MessageID(?:\s[^>]*)?>\s*([^<\s]+)\s*</`)

func requestMessageID(raw []byte) string {
	if m := messageIDPattern.FindSubmatch(raw); m != nil {
		return string(m[1])
	}
	return ""
}

// sameMediaType compares media types and their charset, ignoring other parameters' order.
func sameMediaType(got, want string) bool {
	gt, gp, err1 := mime.ParseMediaType(got)
	wt, wp, err2 := mime.ParseMediaType(want)
	if err1 != nil || err2 != nil {
		return got == want
	}
	return gt == wt && strings.EqualFold(gp["charset"], wp["charset"])
}
