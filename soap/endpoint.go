package soap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"

	"github.com/beevik/etree"
)

// DefaultMaxBodyBytes is the request size limit when Endpoint.MaxBodyBytes is 0 (WCF's default
// MaxReceivedMessageSize).
const DefaultMaxBodyBytes = 64 << 10

// Endpoint is an http.Handler serving SOAP 1.1 and SOAP 1.2 request/reply operations on one URL.
type Endpoint struct {
	Operations   []Operation
	MaxBodyBytes int64        // request body limit; 0 means DefaultMaxBodyBytes
	Logger       *slog.Logger // nil means slog.Default()

	// Authenticate, when set, is called for every envelope once its structure is checked and
	// before its headers' mustUnderstand: sec is the request's wsse:Security header addressed
	// to this endpoint (nil if none; a malformed one was answered with InvalidSecurity), which
	// then counts as understood. It returns the context the operation runs in, or an error: a
	// *Fault is sent as the reply, a *StatusError as a plain HTTP answer (e.g. 401), anything
	// else as an internal error.
	Authenticate func(ctx context.Context, r *http.Request, sec *Security) (context.Context, error)
}

func (e *Endpoint) logger() *slog.Logger {
	if e.Logger != nil {
		return e.Logger
	}
	return slog.Default()
}

func (e *Endpoint) limit() int64 {
	if e.MaxBodyBytes > 0 {
		return e.MaxBodyBytes
	}
	return DefaultMaxBodyBytes
}

// ServeHTTP implements http.Handler. In order: POST only (405); Content-Type text/xml,
// application/soap+xml or application/xml (415); the body limit (413, before reading when
// Content-Length says so); charset (utf-8, utf-16[le|be]), XML and namespace well-formedness,
// DTDs and processing instructions refused, the parser limits (see MaxElements) (a Sender fault
// in the version the Content-Type suggests); the root element picks the version
// (VersionMismatch otherwise); the envelope's structure (at most one Header, first; exactly one
// Body, holding at most one element); authentication (Authenticate); mustUnderstand; the WS-Addressing rules; action
// resolution; the operation. Replies use the request's version; every fault is HTTP 500.
func (e *Endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "405 method not allowed: a SOAP endpoint accepts POST only", http.StatusMethodNotAllowed)
		return
	}
	mt, params, err := parseContentType(r.Header.Get("Content-Type"))
	hint := V11
	switch {
	case err != nil:
		http.Error(w, fmt.Sprintf("415 unsupported media type: cannot read the Content-Type %q (%v); send text/xml (SOAP 1.1) or application/soap+xml (SOAP 1.2)",
			r.Header.Get("Content-Type"), err), http.StatusUnsupportedMediaType)
		return
	case mt == "application/soap+xml":
		hint = V12
	case mt == "text/xml" || mt == "application/xml":
	default:
		http.Error(w, fmt.Sprintf("415 unsupported media type %q: send text/xml (SOAP 1.1) or application/soap+xml (SOAP 1.2)", mt),
			http.StatusUnsupportedMediaType)
		return
	}
	limit := e.limit()
	if r.ContentLength > limit {
		// Refused before reading: a client waiting on Expect: 100-continue gets no 100.
		tooLarge(w, limit)
		return
	}
	raw, err := readBody(w, r, limit)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			tooLarge(w, limit)
			return
		}
		e.logger().Debug("soap: reading request body", "err", err)
		http.Error(w, "400 bad request: the request body could not be read", http.StatusBadRequest)
		return
	}
	if raw, err = decodeContent(raw, r.Header.Get("Content-Encoding"), limit); err != nil {
		if errors.Is(err, errTooLarge) {
			tooLarge(w, limit)
			return
		}
		http.Error(w, "415 unsupported media type: "+err.Error(), http.StatusUnsupportedMediaType)
		return
	}
	data, err := toUTF8(raw, params["charset"])
	if err != nil {
		e.sendFault(w, hint, nil, NewFault(Sender, "The message cannot be decoded: "+err.Error()))
		return
	}
	root, err := parseXML(data, requestLimits)
	if err != nil {
		e.sendFault(w, hint, nil, NewFault(Sender, "The message cannot be read: "+err.Error()))
		return
	}
	v, ok := envelopeVersion(root)
	if !ok {
		reason := fmt.Sprintf("The root element {%s}%s is not a SOAP 1.1 or SOAP 1.2 Envelope.", nsOf(root), root.Tag)
		e.write(w, http.StatusInternalServerError, V11, versionMismatchMessage(reason).Marshal())
		return
	}
	e.serveEnvelope(w, r, v, root)
}

// readBody reads the request body, at most limit bytes. With a Content-Length (net/http then
// delivers exactly that many bytes) the buffer is allocated once, at its size.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	body := http.MaxBytesReader(w, r.Body, limit)
	if n := r.ContentLength; n > 0 && n <= limit {
		buf := make([]byte, n)
		if _, err := io.ReadFull(body, buf); err != nil {
			return nil, err
		}
		return buf, nil
	}
	return io.ReadAll(body)
}

func tooLarge(w http.ResponseWriter, limit int64) {
	w.Header().Set("Connection", "close")
	http.Error(w, "413 request entity too large: the message exceeds "+strconv.FormatInt(limit, 10)+" bytes",
		http.StatusRequestEntityTooLarge)
}

// serveEnvelope runs the SOAP processing model on a parsed envelope of version v.
func (e *Endpoint) serveEnvelope(w http.ResponseWriter, r *http.Request, v Version, env *etree.Element) {
	// The addressing headers are read first, so that a fault about the envelope's structure
	// still answers in the request's WS-A namespace.
	a := readAddressing(child(env, v.Namespace(), "Header"))
	hdr, bodyElem, err := envelopeParts(v, env)
	if err != nil {
		e.sendFault(w, v, a, NewFault(Sender, err.Error()))
		return
	}
	var body *etree.Element
	switch cs := bodyElem.ChildElements(); {
	case len(cs) > 1:
		e.sendFault(w, v, a, NewFault(Sender,
			"The Body has more than one child element: a request Body holds exactly one, the operation's element."))
		return
	case len(cs) == 1:
		body = cs[0]
	}
	ctx := r.Context()
	understood := a.understood
	if e.Authenticate != nil {
		sec, f := readSecurity(v, hdr)
		if f != nil {
			e.sendFault(w, v, a, f)
			return
		}
		c, err := e.Authenticate(ctx, r, sec)
		if err != nil {
			var se *StatusError
			if errors.As(err, &se) {
				writeStatus(w, se)
				return
			}
			f, ok := asFault(err)
			if !ok {
				e.logger().Error("soap: authentication failed", "err", err)
			}
			e.sendFault(w, v, a, f)
			return
		}
		ctx = c
		understood = func(h *etree.Element) bool {
			return a.understood(h) || (isSecurityHeader(h) && targeted(v, h))
		}
	}
	if f := checkMustUnderstand(v, hdr, understood); f != nil {
		e.sendFault(w, v, a, f)
		return
	}
	if f := a.validate(); f != nil {
		e.sendFault(w, v, a, f)
		return
	}
	op, action, f := e.resolve(a, r, body)
	if f != nil {
		e.sendFault(w, v, a, f)
		return
	}
	req := &Request{
		Version: v, Action: action, Addressing: a.ns, MessageID: a.messageID,
		Header: hdr, Body: body, HTTP: r,
	}
	reply, err := e.invoke(ctx, op, req)
	if err != nil {
		f, ok := asFault(err)
		if !ok {
			e.logger().Error("soap: operation failed", "action", action, "err", err)
		}
		e.sendFault(w, v, a, f)
		return
	}
	m := &Message{Version: v, Body: reply}
	if a.ns != "" {
		m.Addressing, m.Action, m.RelatesTo = a.ns, op.ReplyAction, a.messageID
	}
	e.write(w, http.StatusOK, v, m.Marshal())
}

// invoke calls the operation, turning a panic into an internal error.
func (e *Endpoint) invoke(ctx context.Context, op *Operation, req *Request) (reply *etree.Element, err error) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			e.logger().Error("soap: operation panicked", "action", op.Action, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			reply, err = nil, fmt.Errorf("panic: %v", p)
		}
	}()
	if op.Handle == nil {
		return nil, errors.New("soap: operation has no Handle function")
	}
	return op.Handle(ctx, req)
}

// sendFault writes f as an HTTP 500 reply of version v; a (may be nil) supplies the request's
// WS-A namespace and MessageID.
func (e *Endpoint) sendFault(w http.ResponseWriter, v Version, a *addressing, f *Fault) {
	wsa, rel := "", ""
	if a != nil {
		wsa, rel = a.ns, a.messageID
	}
	e.logger().Debug("soap: fault", "code", f.Code.String(), "subcodes", f.Subcodes, "reason", f.Reason)
	e.write(w, http.StatusInternalServerError, v, FaultMessage(v, wsa, rel, f).Marshal())
}

func (e *Endpoint) write(w http.ResponseWriter, status int, v Version, b []byte) {
	h := w.Header()
	h.Set("Content-Type", v.ContentType())
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
