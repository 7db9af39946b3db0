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
