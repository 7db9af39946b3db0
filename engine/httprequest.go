package engine

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// HttpRequest is the built-in asynchronous activity that calls an HTTP endpoint (FORMAT.md,
// "HttpRequest"). The engine only declares it: the host performs its calls (host.HTTPCaller),
// through the same mechanism as any asynchronous custom activity.
var HttpRequest = &ActivityType{
	Name: "HttpRequest",
	Arguments: []ActivityArgument{
		{Name: "Method", Type: String, Default: "GET", Validate: validMethod},
		{Name: "Url", Type: String, Required: true, Validate: validHTTPURL},
		{Name: "Headers", Type: Object, Validate: validHeaders},
		{Name: "Body", Type: Object},
		{Name: "RetryStatuses", Type: String, Default: DefaultRetryStatuses, Validate: func(v any) error {
			_, err := ParseStatusList(v.(string))
			return err
		}},
		{Name: "FailOnStatus", Type: Boolean},
	},
}

// DefaultRetryStatuses are the response statuses an HttpRequest retries unless its
// RetryStatuses says otherwise: Too Many Requests, Bad Gateway, Service Unavailable and
// Gateway Timeout (transient by RFC 9110 and RFC 6585).
const DefaultRetryStatuses = "429,502,503,504"

// ParseStatusList parses a comma-separated list of HTTP status codes (three digits, 100 to 599;
// spaces around the commas allowed; "" is the empty list). The result is sorted without
// duplicates.
func ParseStatusList(s string) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []int
	for _, part := range strings.Split(s, ",") {
		p := strings.TrimSpace(part)
		if len(p) != 3 || strings.Trim(p, "0123456789") != "" {
			return nil, fmt.Errorf("bad status %q in %q: want three digits, 100 to 599", p, s)
		}
		n, _ := strconv.Atoi(p)
		if n < 100 || n > 599 {
			return nil, fmt.Errorf("bad status %d in %q: want 100 to 599", n, s)
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// validMethod accepts an RFC 9110 method token (GET, POST, PATCH, ...).
func validMethod(v any) error {
	s, _ := v.(string)
	if s == "" || len(s) > 32 {
		return errors.New("want an HTTP method such as GET or POST")
	}
	for _, c := range s {
		if !isTokenChar(c) {
			return fmt.Errorf("%q is not an HTTP method", s)
		}
	}
	return nil
}

// isTokenChar: RFC 9110 tchar.
func isTokenChar(c rune) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return c < 128 && strings.ContainsRune("!#$%&'*+-.^_`|~", c)
}

// validHTTPURL accepts an absolute http or https URL with a host.
func validHTTPURL(v any) error {
	s, _ := v.(string)
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("bad URL %q: %v", truncate(s, 200), err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return fmt.Errorf("bad URL %q: want an absolute http:// or https:// URL without user information", truncate(s, 200))
	}
	return nil
}

// validHeaders accepts null or an object whose names are header field names (RFC 9110 tokens)
// and whose values are strings without CR, LF or NUL.
func validHeaders(v any) error {
	if v == nil {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("want an object of strings, not %s", aTypeName(v))
	}
	for k, x := range m {
		if k == "" {
			return errors.New("empty header name")
		}
		for _, c := range k {
			if !isTokenChar(c) {
				return fmt.Errorf("bad header name %q", truncate(k, 80))
			}
		}
		s, ok := x.(string)
		if !ok {
			return fmt.Errorf("header %s: want a string, not %s", k, aTypeName(x))
		}
		if strings.ContainsAny(s, "\r\n\x00") {
			return fmt.Errorf("header %s: the value contains CR, LF or NUL", k)
		}
	}
	return nil
}
