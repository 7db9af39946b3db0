package server

import (
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

// FuzzForwarding: whatever a trusted proxy's headers say, the base URL is an absolute http or
// https URL with no path, query or user; and from an untrusted peer the headers change
// nothing.
func FuzzForwarding(f *testing.F) {
	f.Add("203.0.113.7, 10.0.0.2", "https", "wimp.example:8443", "evil.example")
	f.Add("unknown, [2001:db8::1]:80", "HTTP", "a/b@c", "")
	f.Add(",,,", "ftp", "[::1]:0", "x\r\ny")
	trusted := &Forwarding{Trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	f.Fuzz(func(t *testing.T, xff, proto, xfh, hostHeader string) {
		r := httptest.NewRequest("GET", "/WorkflowControl?wsdl", nil)
		r.RemoteAddr = "10.0.0.2:4242"
		r.Host = hostHeader
		r.Header["X-Forwarded-For"] = []string{xff}
		r.Header["X-Forwarded-Proto"] = []string{proto}
		r.Header["X-Forwarded-Host"] = []string{xfh}
		base := trusted.BaseURL(r)
		u, err := url.Parse(base)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
			u.Path != "" || u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(base, " \r\n\t") {
			t.Fatalf("BaseURL %q from X-Forwarded-Proto %q, -Host %q", base, proto, xfh)
		}
		_ = trusted.RemoteAddr(r)
		r.RemoteAddr = "192.0.2.9:4242"
		if got := trusted.RemoteAddr(r); got != "192.0.2.9:4242" {
			t.Fatalf("an untrusted peer's X-Forwarded-For %q made the address %q", xff, got)
		}
		if got := trusted.BaseURL(r); got != "http://localhost" {
			t.Fatalf("an untrusted peer's headers made the base URL %q", got)
		}
	})
}
