package host

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wimp-project/wimp/engine"
)

// The HttpRequest activity's calls (engine/FORMAT.md, "HttpRequest"): HTTPCaller is the
// CallFunc the host registers for it, an ordinary implementation of the asynchronous-activity
// interface that custom activities use too.

// DefaultMaxResponseBody is the largest response body an HttpRequest reads (1 MiB) unless
// HTTPOptions.MaxResponseBody says otherwise; a larger one is an HttpRequestError.
const DefaultMaxResponseBody = 1 << 20

// HTTPOptions configure the HttpRequest activity.
type HTTPOptions struct {
	// Allow lists the hosts requests may go to (--http-allow); empty: none, every request is
	// refused without a connection.
	Allow AllowList
	// MaxResponseBody bounds the response body read (0: DefaultMaxResponseBody).
	MaxResponseBody int64
	// Transport replaces the HTTP transport (tests); nil: one that dials only allowed
	// addresses, uses no proxy, and bounds TLS handshakes and response headers.
	Transport http.RoundTripper
	// Logger logs refused and failed requests (nil: slog.Default()).
	Logger *slog.Logger
}

// AllowEntry is one --http-allow entry: a host (a lower-case DNS name without its trailing dot,
// or an IP address) and a port ("" for any port).
type AllowEntry struct {
	Host string
	Port string
}

func (e AllowEntry) String() string {
	h := e.Host
	if strings.Contains(h, ":") {
		h = "[" + h + "]"
	}
	if e.Port == "" {
		return h
	}
	return h + ":" + e.Port
}

// AllowList is the hosts HttpRequest may reach.
type AllowList []AllowEntry

func (l AllowList) String() string {
	parts := make([]string, len(l))
	for i, e := range l {
		parts[i] = e.String()
	}
	return strings.Join(parts, ",")
}

// ParseAllowList parses --http-allow: HOST[:PORT] entries separated by commas (spaces around
// them allowed; "" is the empty list). HOST is a DNS name (compared without regard to case, a
// trailing dot ignored), an IPv4 address or a bracketed IPv6 address ([::1]); without PORT
// every port of the host is allowed. Wildcards are not supported.
func ParseAllowList(s string) (AllowList, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out AllowList
	for _, part := range strings.Split(s, ",") {
		e, err := parseAllowEntry(strings.TrimSpace(part))
		if err != nil {
			return nil, fmt.Errorf("--http-allow entry %q: %v", strings.TrimSpace(part), err)
		}
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return out, nil
}

func parseAllowEntry(s string) (AllowEntry, error) {
	if s == "" {
		return AllowEntry{}, errors.New("empty entry")
	}
	host, port := s, ""
	switch {
	case strings.HasPrefix(s, "["):
		end := strings.Index(s, "]")
		if end < 0 {
			return AllowEntry{}, errors.New("missing ] after an IPv6 address")
		}
		host = s[1:end]
		rest := s[end+1:]
		if rest != "" {
			p, ok := strings.CutPrefix(rest, ":")
			if !ok {
				return AllowEntry{}, fmt.Errorf("unexpected %q after the address", rest)
			}
			port = p
			if port == "" {
				return AllowEntry{}, errors.New("empty port")
			}
		}
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is6() || a.Zone() != "" {
			return AllowEntry{}, fmt.Errorf("%q is not an IPv6 address", host)
		}
	case strings.Count(s, ":") > 1:
		return AllowEntry{}, errors.New("write an IPv6 address in brackets: [::1] or [::1]:8080")
	case strings.Contains(s, ":"):
		host, port, _ = strings.Cut(s, ":")
		if port == "" {
			return AllowEntry{}, errors.New("empty port")
		}
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || strings.Trim(port, "0123456789") != "" {
			return AllowEntry{}, fmt.Errorf("bad port %q: want 1 to 65535", port)
		}
		port = strconv.Itoa(n)
	}
	h, ok := normalHost(host)
	if !ok {
		return AllowEntry{}, fmt.Errorf("%q is not a host name or an IP address", host)
	}
	return AllowEntry{Host: h, Port: port}, nil
}

// normalHost is a host as allow-list entries and request URLs are compared: an IP address in
// its canonical form (an IPv4-mapped IPv6 address as IPv4), or a lower-case DNS name without
// its trailing dot. ok is false for anything else.
func normalHost(h string) (string, bool) {
	if a, err := netip.ParseAddr(h); err == nil {
		if a.Zone() != "" {
			return "", false
		}
		return a.Unmap().String(), true
	}
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	if h == "" || len(h) > 253 {
		return "", false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return "", false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return "", false
			}
		}
	}
	if strings.Trim(h, "0123456789.") == "" {
		return "", false // looks numeric but is no IPv4 address (1.2.3, 999.1.1.1)
	}
	return h, true
}

// Allows reports whether a request to host and port (a decimal number) may be made.
func (l AllowList) Allows(host, port string) bool {
	h, ok := normalHost(host)
	if !ok {
		return false
	}
	for _, e := range l {
		if e.Host == h && (e.Port == "" || e.Port == port) {
			return true
		}
	}
	return false
}

// allowsURL checks a request URL: its host and its port (the scheme's default when absent).
func (l AllowList) allowsURL(u *url.URL) (string, bool) {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	hp := net.JoinHostPort(u.Hostname(), port)
	return hp, l.Allows(u.Hostname(), port)
}

// HTTPCaller returns the CallFunc that performs HttpRequest attempts. Redirects are never
// followed: a 3xx response is the result (its Location in the headers), so a request never
// reaches a host outside the allow-list.
func HTTPCaller(o HTTPOptions) CallFunc {
	if o.MaxResponseBody <= 0 {
		o.MaxResponseBody = DefaultMaxResponseBody
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	allow := slices.Clone(o.Allow)
	rt := o.Transport
	if rt == nil {
		dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
		rt = &http.Transport{
			Proxy: nil, // a proxy would reach hosts on our behalf: no environment proxies
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				h, p, err := net.SplitHostPort(addr)
				if err != nil || !allow.Allows(h, p) {
					return nil, fmt.Errorf("dial %s: not in --http-allow", addr)
				}
				return dialer.DialContext(ctx, network, addr)
			},
			TLSHandshakeTimeout:    10 * time.Second,
			MaxResponseHeaderBytes: 64 << 10,
			MaxIdleConns:           16,
			IdleConnTimeout:        90 * time.Second,
			ForceAttemptHTTP2:      true,
		}
	}
	client := &http.Client{Transport: rt, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return func(ctx context.Context, c Call) engine.CallOutcome {
		return httpAttempt(ctx, client, allow, o, c)
	}
}

func httpError(retry bool, format string, args ...any) engine.CallOutcome {
	return engine.CallOutcome{Retry: retry, Error: &engine.Exception{Name: engine.HttpRequestError, Message: fmt.Sprintf(format, args...)}}
}

func httpAttempt(ctx context.Context, client *http.Client, allow AllowList, o HTTPOptions, c Call) engine.CallOutcome {
	method, _ := c.Args["Method"].(string)
	raw, _ := c.Args["Url"].(string)
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return httpError(false, "bad URL %q", raw)
	}
	hostPort, ok := allow.allowsURL(u)
	if !ok {
		o.Logger.Warn("HttpRequest refused: the host is not in --http-allow", "id", c.Instance, "activity", c.Activity,
			"host", hostPort, "allowed", allow.String())
		allowed := allow.String()
		if allowed == "" {
			allowed = "none"
		}
		return httpError(false, "%s %s: host %s is not allowed (--http-allow: %s)", method, u.Redacted(), hostPort, allowed)
	}
	statuses, err := engine.ParseStatusList(fmt.Sprint(c.Args["RetryStatuses"]))
	if err != nil {
		return httpError(false, "RetryStatuses: %v", err)
	}
	var body io.Reader
	contentType := ""
	switch b := c.Args["Body"].(type) {
	case nil:
	case string:
		body, contentType = strings.NewReader(b), "text/plain; charset=utf-8"
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return httpError(false, "Body: %v", err)
		}
		body, contentType = bytes.NewReader(data), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return httpError(false, "%v", err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("User-Agent", "wimp-HttpRequest")
	// The key as a Structured Field string (draft-ietf-httpapi-idempotency-key-header).
	req.Header.Set("Idempotency-Key", `"`+c.Key+`"`)
	if hs, ok := c.Args["Headers"].(map[string]any); ok {
		for k, v := range hs {
			s, _ := v.(string)
			req.Header.Set(k, s)
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return httpError(true, "%s %s: no response within the Timeout (attempt %d)", method, u.Redacted(), c.Attempt)
		}
		return httpError(true, "%s %s: %v", method, u.Redacted(), unwrapURLError(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, o.MaxResponseBody+1))
	if err != nil {
		return httpError(true, "%s %s: reading the response: %v", method, u.Redacted(), unwrapURLError(err))
	}
	if int64(len(data)) > o.MaxResponseBody {
		return httpError(false, "%s %s: the response body is larger than %d bytes", method, u.Redacted(), o.MaxResponseBody)
	}
	headers := map[string]any{}
	for k, vs := range resp.Header {
		headers[strings.ToLower(k)] = strings.Join(vs, ", ")
	}
	result := map[string]any{"status": float64(resp.StatusCode), "headers": headers, "body": responseBody(resp.Header.Get("Content-Type"), data)}
	out := engine.CallOutcome{Value: result, Retry: slices.Contains(statuses, resp.StatusCode)}
	if fail, _ := c.Args["FailOnStatus"].(bool); fail && (resp.StatusCode < 200 || resp.StatusCode > 299) {
		out.Error = &engine.Exception{Name: engine.HttpRequestError, Message: fmt.Sprintf("%s %s: status %s", method, u.Redacted(), resp.Status)}
	}
	return out
}

// responseBody is a response's body as the result holds it: parsed JSON when the media type is
// JSON (application/json or +json) and it parses, else text (invalid UTF-8 replaced).
func responseBody(contentType string, data []byte) any {
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt == "application/json" || strings.HasSuffix(mt, "+json") {
		var v any
		if err := json.Unmarshal(data, &v); err == nil {
			return v
		}
	}
	if !utf8.Valid(data) {
		return strings.ToValidUTF8(string(data), "\uFFFD")
	}
	return string(data)
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
