package server

// Forwarding between nodes that share a store (README, "Running several nodes"). An operation
// on an instance that another live node holds is refused by this node's host, changing
// nothing, with the holder named (host.Forward); the request is then sent as it came — body,
// credentials, SOAP headers — to the holder's advertised URL, and the holder's reply is the
// client's reply. The holder authenticates and authorizes the client itself. A request is
// forwarded at most once (a forwarded request carries ForwardedByHeader and is never forwarded
// again): if the lease moved on meanwhile, the client gets the Receiver fault this node would
// have answered, and may retry. If the holder cannot be reached, the same. If it was sent the
// request but its reply did not come (it died meanwhile), the operation may or may not have
// been applied: the client gets HTTP 502 Bad Gateway, as if the connection had dropped.

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/auth"
	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/store"
)

// ForwardedByHeader marks a request one node forwarded to another; its value is the
// forwarding node's owner id (for the holder's log).
const ForwardedByHeader = "Wimp-Forwarded-By"

// peers forwards requests to the node holding their instance.
type peers struct {
	h       *host.Host
	maxBody int64
	client  *http.Client
	log     *slog.Logger

	forwarded, failed, unknown atomic.Int64
}

func newPeers(h *host.Host, maxBody int64, log *slog.Logger, roots *x509.CertPool) *peers {
	return &peers{h: h, maxBody: maxBody, log: log, client: &http.Client{
		// A node's reply is relayed as it is, redirects included.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute,
			DialContext:     (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}},
	}}
}

// serve runs next on r; when the host refused r's operation for another node, it forwards r
// there and relays the reply instead of next's.
func (p *peers) serve(w http.ResponseWriter, r *http.Request, next http.HandlerFunc) {
	if stateOf(r.Context()) == asserted || r.Header.Get(ForwardedByHeader) != "" || r.Body == nil {
		next(w, r)
		return
	}
	// The body is kept to be sent again; one over the limit is not forwardable (the endpoint
	// refuses it anyway).
	body, err := io.ReadAll(io.LimitReader(r.Body, p.maxBody+1))
	if err != nil || int64(len(body)) > p.maxBody {
		r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), r.Body))
		next(w, r)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	ctx, fwd := host.WithForward(r.Context())
	hw := &holdingWriter{ResponseWriter: w, fwd: fwd}
	next(hw, r.WithContext(ctx))
	to, ok := fwd.To()
	if !ok {
		return
	}
	if !hw.held {
		hw.decide() // next wrote nothing: nothing to fall back on but what it set
	}
	sent, err := p.relay(w, r, body, to, fwd.As())
	switch {
	case err == nil:
		p.forwarded.Add(1)
	case !sent:
		p.failed.Add(1)
		p.log.Warn("forwarding an operation to the node holding the instance failed; answering as this node",
			"to", to.ID, "url", to.Advertise, "err", err)
		hw.flush()
	default:
		p.outcomeUnknown(to, err)
		h := w.Header()
		for k := range h {
			delete(h, k)
		}
		http.Error(w, "the node holding the instance did not answer; the operation may or may not have been applied", http.StatusBadGateway)
	}
}

// relay sends r (with body) to the node to, asserting the principal as, and copies its reply to
// w. sent reports whether any of the request was written to the node (then a failure leaves
// its outcome unknown) and the node did not refuse it unapplied (421: it is not that
// registration any more).
func (p *peers) relay(w http.ResponseWriter, r *http.Request, body []byte, to store.Owner, as host.Principal) (sent bool, err error) {
	ctx := context.WithoutCancel(r.Context()) // once sent, the holder applies it whatever the client does
	if d, ok := r.Context().Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d)
		defer cancel()
	}
	out, wrote, err := p.request(ctx, r.Method, to, r.URL.RequestURI(), body, as)
	if err != nil {
		return false, err
	}
	for k, vs := range r.Header {
		if !hopByHop(k) && !replaced(k) {
			out.Header[k] = vs
		}
	}
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		if prior := r.Header.Get("X-Forwarded-For"); prior != "" {
			ip = prior + ", " + ip
		}
		out.Header.Set("X-Forwarded-For", ip)
	}
	resp, err := p.client.Do(out)
	if err != nil {
		return wrote.Load(), err
	}
	defer resp.Body.Close()
	reply, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return true, err
	}
	if resp.StatusCode == http.StatusMisdirectedRequest {
		return false, fmt.Errorf("%s answered %s", to.Advertise, bytes.TrimSpace(reply[:min(len(reply), 300)]))
	}
	h := w.Header()
	for k := range h {
		delete(h, k)
	}
	for k, vs := range resp.Header {
		if !hopByHop(k) && k != "Content-Length" {
			h[k] = vs
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(reply)
	return true, nil
}

// outcomeUnknown counts and logs an operation node to was sent but did not answer.
func (p *peers) outcomeUnknown(to store.Owner, err error) {
	p.unknown.Add(1)
	p.log.Warn("the node holding the instance was sent an operation but did not answer; its outcome is unknown",
		"to", to.ID, "url", to.Advertise, "err", err)
}

// request is a request to node to for uri with body, carrying the asserted principal as
// (auth.AssertPrincipal) and ForwardedByHeader; wrote turns true once any of it is written.
func (p *peers) request(ctx context.Context, method string, to store.Owner, uri string, body []byte, as host.Principal) (*http.Request, *atomic.Bool, error) {
	key, err := p.h.ClusterSecret(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the cluster secret: %w", err)
	}
	wrote := &atomic.Bool{}
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteHeaderField: func(string, []string) { wrote.Store(true) }})
	out, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(to.Advertise, "/")+uri, bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	self := p.h.Self()
	a, sig := auth.AssertPrincipal(key, as, self, to.ID, time.Now(), method, uri, body)
	out.Header.Set(auth.AssertionHeader, a)
	out.Header.Set(auth.SignatureHeader, sig)
	out.Header.Set(ForwardedByHeader, self)
	return out, wrote, nil
}

// replaced reports the request headers a forwarded request does not pass on: the client's
// credentials (the holder trusts the asserted principal instead, and a password need not
// travel further) and any assertion the client itself sent.
func replaced(k string) bool {
	switch http.CanonicalHeaderKey(k) {
	case "Authorization", auth.AssertionHeader, auth.SignatureHeader, ForwardedByHeader:
		return true
	}
	return false
}

// applyPath is where a node asks another to apply a host.Request (host.Peers): a bulk job's
// item, a dashboard action. Only a request with a principal asserted by a node of the store
// is served.
const applyPath = "/cluster/v1/apply"

// applyTimeout bounds one Apply: the holder commits one operation.
const applyTimeout = 30 * time.Second

// applyReply is applyPath's answer: the holder's refusal, or none.
type applyReply struct {
	Refusal *host.Refusal `json:"refusal"`
}

// Apply asks node to to apply r as the principal ctx carries (host.Peers).
func (p *peers) Apply(ctx context.Context, to store.Owner, r host.Request) error {
	body, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("%w: %v", host.ErrNotSent, err)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), applyTimeout)
	defer cancel()
	out, wrote, err := p.request(ctx, http.MethodPost, to, applyPath, body, host.PrincipalFrom(ctx))
	if err != nil {
		p.failed.Add(1)
		return fmt.Errorf("%w: %v", host.ErrNotSent, err)
	}
	out.Header.Set("Content-Type", "application/json")
	if id := host.RequestIDFrom(ctx); id != "" {
		out.Header.Set("X-Request-Id", id)
	}
	unknown := func(err error) error {
		p.outcomeUnknown(to, err)
		return &host.Error{Kind: host.ErrOutcomeUnknown, Instance: r.Instance, Operation: r.Operation,
			Detail: "node " + to.Node + " (" + to.Advertise + ") holding the instance did not answer", Cause: err}
	}
	resp, err := p.client.Do(out)
	if err != nil {
		if wrote.Load() {
			return unknown(err)
		}
		p.failed.Add(1)
		return fmt.Errorf("%w: %v", host.ErrNotSent, err)
	}
	defer resp.Body.Close()
	reply, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return unknown(err)
	}
	if resp.StatusCode != http.StatusOK {
		// Only a 200 follows the operation; every other answer comes before it is begun.
		p.failed.Add(1)
		return fmt.Errorf("%w: %s answered HTTP %d: %s", host.ErrNotSent, to.Advertise, resp.StatusCode, bytes.TrimSpace(reply[:min(len(reply), 300)]))
	}
	var ar applyReply
	if err := json.Unmarshal(reply, &ar); err != nil {
		return unknown(fmt.Errorf("its reply is not JSON: %w", err))
	}
	p.forwarded.Add(1)
	if ar.Refusal != nil {
		return ar.Refusal.Err()
	}
	return nil
}

// accept serves applyPath: a host.Request another node hands this one, applied as the
// principal it asserts.
func (p *peers) accept(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "405 method not allowed: "+applyPath+" takes POST", http.StatusMethodNotAllowed)
		return
	}
	if stateOf(r.Context()) != asserted {
		http.Error(w, "403 forbidden: only another node of this store, asserting who asked, may call "+applyPath, http.StatusForbidden)
		return
	}
	req, err := decodeApply(http.MaxBytesReader(w, r.Body, p.maxBody))
	if err != nil {
		http.Error(w, "400 bad request: "+err.Error(), http.StatusBadRequest)
		return
	}
	noteOperation(r.Context(), req.Operation)
	reply := applyReply{Refusal: host.RefusalOf(p.h.Accept(r.Context(), req))}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(reply)
}

// decodeApply reads applyPath's body: one host.Request, nothing unknown, nothing after it.
func decodeApply(body io.Reader) (host.Request, error) {
	var req host.Request
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return host.Request{}, fmt.Errorf("the body is not one operation's JSON: %w", err)
	}
	if dec.More() {
		return host.Request{}, errors.New("the body holds more than one JSON value")
	}
	if req.Operation == "" || req.Instance == uuid.Nil {
		return host.Request{}, errors.New("an operation and an instance id are required")
	}
	return req, nil
}

// hopByHop reports the headers (RFC 9110 §7.6.1) that belong to one connection, not to the
// message a node passes on.
func hopByHop(k string) bool {
	switch http.CanonicalHeaderKey(k) {
	case "Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
		"Proxy-Authorization", "Proxy-Authenticate":
		return true
	}
	return false
}

// holdingWriter passes a reply through, unless by the time the handler starts it the host has
// asked for the request to be forwarded: then it holds the reply back, the fallback should
// the holder be unreachable.
type holdingWriter struct {
	http.ResponseWriter
	fwd     *host.Forward
	decided bool
	held    bool
	status  int
	body    bytes.Buffer
}

func (w *holdingWriter) decide() {
	if w.decided {
		return
	}
	w.decided = true
	_, w.held = w.fwd.To()
	w.status = http.StatusOK
}

func (w *holdingWriter) WriteHeader(code int) {
	w.decide()
	if w.held {
		w.status = code
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *holdingWriter) Write(b []byte) (int, error) {
	w.decide()
	if w.held {
		return w.body.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

// flush writes the held reply.
func (w *holdingWriter) flush() {
	if !w.held {
		return
	}
	w.ResponseWriter.WriteHeader(w.status)
	_, _ = w.ResponseWriter.Write(w.body.Bytes())
}

// Unwrap lets http.ResponseController reach the connection.
func (w *holdingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
