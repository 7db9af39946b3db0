package soap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/beevik/etree"
	"github.com/google/uuid"
)

// DefaultMaxReplyBytes bounds the replies a Client reads when Client.MaxReplyBytes is 0.
const DefaultMaxReplyBytes = 16 << 20

// Client calls operations of a SOAP endpoint.
type Client struct {
	HTTP       *http.Client // nil means http.DefaultClient
	URL        string
	Version    Version // V11 or V12; 0 means V11
	Addressing string  // "" (no WS-A headers), WSA10 or WSA0408

	// Headers are further header blocks sent with every request (copied), e.g. to test how a
	// server handles mustUnderstand.
	Headers []*etree.Element
	// MaxReplyBytes bounds the reply body; 0 means DefaultMaxReplyBytes.
	MaxReplyBytes int64
	// Credentials, when set, authenticate every request.
	Credentials *Credentials
}

// Credentials authenticate a Client's requests. Without WSSE every request carries them in an
// HTTP Basic Authorization header (RFC 7617), sent without waiting for a challenge; with WSSE
// every request carries a fresh WS-Security 1.0 header (SecurityHeader: a UsernameToken with
// the password as PasswordText and a Timestamp valid for five minutes) and no Authorization
// header. Either way the password travels in clear text: use https.
type Credentials struct {
	Username, Password string
	WSSE               bool
}

// clientSecurityTTL is how long the Timestamp of a Client's WS-Security header is valid.
const clientSecurityTTL = 5 * time.Minute

// check refuses credentials the chosen scheme cannot carry faithfully: RFC 7617 forbids a
// colon in the user-id and control characters in either part; XML 1.0 cannot carry most
// control characters at all (and would turn a carriage return into a line feed).
func (cr *Credentials) check() error {
	if cr.Username == "" {
		return errors.New("soap: credentials without a username")
	}
	if !utf8.ValidString(cr.Username) || !utf8.ValidString(cr.Password) {
		return errors.New("soap: the username or password is not valid UTF-8")
	}
	if !cr.WSSE && strings.Contains(cr.Username, ":") {
		return errors.New("soap: an HTTP Basic username cannot contain ':' (RFC 7617)")
	}
	for _, s := range []string{cr.Username, cr.Password} {
		if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return errors.New("soap: the username or password contains a control character")
		}
	}
	return nil
}

// Response is everything a Client learnt from one exchange.
type Response struct {
	StatusCode int
	Header     http.Header
	Raw        []byte         // the reply body bytes
	Envelope   *etree.Element // the reply Envelope
	Version    Version        // the reply's SOAP version
	Action     string         // the reply's wsa:Action, "" if none
	RelatesTo  string         // the reply's wsa:RelatesTo, "" if none
	MessageID  string         // the MessageID the request carried ("" without WS-A)
	Body       *etree.Element // the reply Body's first child, nil if empty
	Fault      *Fault         // the parsed fault, if the reply is one
}

// Call sends body as the request of action and returns the reply body's child element. A fault
// reply is returned as a *Fault error; other failures (transport, non-SOAP replies) as errors.
func (c *Client) Call(ctx context.Context, action string, body *etree.Element) (*etree.Element, error) {
	resp, err := c.Do(ctx, action, body)
	if err != nil {
		return nil, err
	}
	if resp.Fault != nil {
		return nil, resp.Fault
	}
	return resp.Body, nil
}

// Do performs one exchange and returns the parsed reply. A SOAP fault is not an error here:
// it is in Response.Fault. An HTTP reply that is not a SOAP envelope is an error.
func (c *Client) Do(ctx context.Context, action string, body *etree.Element) (*Response, error) {
	v := c.Version
	if v == 0 {
		v = V11
	}
	m := &Message{Version: v, Body: body, Headers: c.Headers}
	if cr := c.Credentials; cr != nil {
		if err := cr.check(); err != nil {
			return nil, err
		}
		if cr.WSSE {
			// A new slice: c.Headers (and its backing array) are left as they are.
			hdrs := make([]*etree.Element, 0, len(c.Headers)+1)
			hdrs = append(hdrs, c.Headers...)
			t := UsernameToken{Username: cr.Username, Password: cr.Password, Type: PasswordText}
			m.Headers = append(hdrs, SecurityHeader(v, t, time.Now(), clientSecurityTTL))
		}
	}
	if c.Addressing != "" {
		anon := AnonymousWSA10
		if c.Addressing == WSA0408 {
			anon = AnonymousWSA0408
		}
		m.Addressing, m.Action, m.MessageID, m.ReplyTo, m.To = c.Addressing, action, "urn:uuid:"+uuid.NewString(), anon, c.URL
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(m.Marshal()))
	if err != nil {
		return nil, err
	}
	if v == V12 {
		req.Header.Set("Content-Type", v.ContentType()+"; action="+strconv.Quote(action))
	} else {
		req.Header.Set("Content-Type", v.ContentType())
		req.Header.Set("SOAPAction", strconv.Quote(action))
	}
	if cr := c.Credentials; cr != nil && !cr.WSSE {
		req.SetBasicAuth(cr.Username, cr.Password)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	hresp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer hresp.Body.Close()
	limit := c.MaxReplyBytes
	if limit <= 0 {
		limit = DefaultMaxReplyBytes
	}
	raw, err := io.ReadAll(io.LimitReader(hresp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("soap: reading reply: %w", err)
	}
	if int64(len(raw)) > limit {
		return nil, fmt.Errorf("soap: reply exceeds %d bytes", limit)
	}
	resp := &Response{StatusCode: hresp.StatusCode, Header: hresp.Header, Raw: raw, MessageID: m.MessageID}
	ct := hresp.Header.Get("Content-Type")
	if mt, _, _ := parseContentType(ct); mt != "text/xml" && mt != "application/soap+xml" && mt != "application/xml" {
		return resp, fmt.Errorf("soap: HTTP %d with Content-Type %q, not a SOAP reply: %s", hresp.StatusCode, ct, snippet(raw))
	}
	env, rv, err := parseEnvelope(raw, ct, replyLimits)
	if err != nil {
		return resp, fmt.Errorf("soap: HTTP %d, unreadable reply: %w", hresp.StatusCode, err)
	}
	resp.Envelope, resp.Version = env, rv
	ns := rv.Namespace()
	if hdr := child(env, ns, "Header"); hdr != nil {
		for _, h := range hdr.ChildElements() {
			if hns := nsOf(h); hns == WSA10 || hns == WSA0408 {
				switch h.Tag {
				case "Action":
					resp.Action = strings.TrimSpace(h.Text())
				case "RelatesTo":
					resp.RelatesTo = strings.TrimSpace(h.Text())
				}
			}
		}
	}
	b := child(env, ns, "Body")
	if b == nil {
		return resp, errors.New("soap: reply envelope has no Body")
	}
	if cs := b.ChildElements(); len(cs) > 0 {
		resp.Body = cs[0]
	}
	if is(resp.Body, ns, "Fault") {
		f, err := ParseFault(env)
		if err != nil {
			return resp, err
		}
		resp.Fault = f
		return resp, nil
	}
	if hresp.StatusCode != http.StatusOK {
		return resp, fmt.Errorf("soap: HTTP %d without a fault", hresp.StatusCode)
	}
	return resp, nil
}

func snippet(b []byte) string {
	const n = 200
	s := strings.TrimSpace(string(b))
	if len(s) > n {
		s = s[:n] + "…"
	}
	return strconv.Quote(s)
}
