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
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync/atomic"
	"time"

	"github.com/wimp-project/wimp/host"
)

// ForwardedByHeader marks a request one node forwarded to another; its value is the
// forwarding node's owner id (for the holder's log).
const ForwardedByHeader = "Wimp-Forwarded-By"

// peers forwards requests to the node holding their instance.
type peers struct {
	self    func() string // this node's owner id
	maxBody int64
	client  *http.Client
	log     *slog.Logger

	forwarded, failed, unknown atomic.Int64
}

func newPeers(h *host.Host, maxBody int64, log *slog.Logger) *peers {
	return &peers{self: h.Self, maxBody: maxBody, log: log, client: &http.Client{
		// A node's reply is relayed as it is, redirects included.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute,
			DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext},
	}}
}

// serve runs next on r; when the host refused r's operation for another node, it forwards r
// there and relays the reply instead of next's.
func (p *peers) serve(w http.ResponseWriter, r *http.Request, next http.HandlerFunc) {
	if r.Header.Get(ForwardedByHeader) != "" || r.Body == nil {
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
	sent, err := p.relay(w, r, body, to.Advertise)
	switch {
	case err == nil:
		p.forwarded.Add(1)
	case !sent:
		p.failed.Add(1)
		p.log.Warn("forwarding an operation to the node holding the instance failed; answering as this node",
			"to", to.ID, "url", to.Advertise, "err", err)
		hw.flush()
	default:
		p.unknown.Add(1)
		p.log.Warn("the node holding the instance was sent an operation but did not answer; its outcome is unknown",
			"to", to.ID, "url", to.Advertise, "err", err)
		h := w.Header()
		for k := range h {
			delete(h, k)
		}
		http.Error(w, "the node holding the instance did not answer; the operation may or may not have been applied", http.StatusBadGateway)
	}
}

// relay sends r (with body) to the node at base and copies its reply to w. sent reports
// whether any of the request was written to the node (then a failure leaves its outcome
// unknown).
func (p *peers) relay(w http.ResponseWriter, r *http.Request, body []byte, base string) (sent bool, err error) {
	ctx := context.WithoutCancel(r.Context()) // once sent, the holder applies it whatever the client does
	if d, ok := r.Context().Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d)
		defer cancel()
	}
	var wrote atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteHeaderField: func(string, []string) { wrote.Store(true) }})
	out, err := http.NewRequestWithContext(ctx, r.Method, strings.TrimRight(base, "/")+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	for k, vs := range r.Header {
		if !hopByHop(k) {
			out.Header[k] = vs
		}
	}
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		if prior := r.Header.Get("X-Forwarded-For"); prior != "" {
			ip = prior + ", " + ip
		}
		out.Header.Set("X-Forwarded-For", ip)
	}
	out.Header.Set(ForwardedByHeader, p.self())
	resp, err := p.client.Do(out)
	if err != nil {
		return wrote.Load(), err
	}
	defer resp.Body.Close()
	reply, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return true, err
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
