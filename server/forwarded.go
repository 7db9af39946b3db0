package server

// Forwarding: who asked, and where this server is, when a reverse proxy may stand in between.
//
// Two things used to come straight from the request and must not:
//
//   - The WSDL's addresses (soap:address / soap12:address in wsdl:service, and the ?xsd= schema
//     locations) were built from the Host header. Anyone could ask for
//     GET /WorkflowControl?wsdl with "Host: evil.example" and get a document sending every
//     client to http://evil.example/...; a cache in front of the server (keyed on the path, as
//     most are) would then hand that document to everybody (web cache poisoning). The base URL
//     is now --public-url when set, else what a trusted proxy says in X-Forwarded-Proto and
//     X-Forwarded-Host, else the scheme and local address the connection actually arrived on.
//     The Host header is never used.
//   - The audit trail recorded the TCP peer, which behind a proxy is the proxy. X-Forwarded-For
//     is now honoured, but only when the peer is a proxy listed in --trusted-proxies, and only
//     as far back as the chain of trusted proxies goes: anything left of the first untrusted
//     hop was written by the client and is ignored.
//
// RFC 7239's Forwarded header is not read: proxies that set it also set the X-Forwarded-*
// headers, and honouring two sources would let a client pick the one its proxy does not
// overwrite.

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// Forwarding decides, per request, the client's address and the public base URL. The zero
// value (and a nil *Forwarding) trusts no proxy and has no public URL.
type Forwarding struct {
	PublicURL *url.URL       // --public-url: scheme://host[:port][/prefix]; nil when not set
	Trusted   []netip.Prefix // --trusted-proxies CIDR[,CIDR]
}

// ParseTrustedProxies parses a comma-separated list of CIDR prefixes and bare IP addresses (a
// bare address is a /32 or /128); "" is nil. IPv4-mapped IPv6 entries (::ffff:10.0.0.0/104)
// are turned into their IPv4 form, as peers are compared in that form. A prefix with host bits
// set (10.1.2.3/8) is masked (10.0.0.0/8), as net.ParseCIDR does. An error names the bad entry
// (`entry 2 "10.0.0.0/33" is not a CIDR prefix ...`), for the caller to prefix with the flag.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []netip.Prefix
	for i, e := range strings.Split(s, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			return nil, fmt.Errorf("entry %d is empty (want CIDR[,CIDR...], e.g. 10.0.0.0/8,192.0.2.1)", i+1)
		}
		var p netip.Prefix
		if strings.Contains(e, "/") {
			var err error
			if p, err = netip.ParsePrefix(e); err != nil {
				return nil, fmt.Errorf("entry %d %q is not a CIDR prefix (e.g. 10.0.0.0/8, 2001:db8::/32): %v", i+1, e, err)
			}
			p = p.Masked()
		} else {
			a, err := netip.ParseAddr(e)
			if err != nil {
				return nil, fmt.Errorf("entry %d %q is not an IP address or CIDR prefix (e.g. 192.0.2.1, 10.0.0.0/8): %v", i+1, e, err)
			}
			if a.Zone() != "" {
				return nil, fmt.Errorf("entry %d %q has an IPv6 zone; give the address without it", i+1, e)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p)
	}
	return out, nil
}

// ParsePublicURL parses --public-url: an absolute http or https URL, scheme://host[:port] with
// an optional path prefix, no user information, query or fragment; "" is nil. Trailing slashes
// of the path are dropped ("https://wimp.example/" is "https://wimp.example"). An error starts
// with s quoted, for the caller to prefix with the flag.
func ParsePublicURL(s string) (*url.URL, error) {
	if s == "" {
		return nil, nil
	}
	fail := func(why string) (*url.URL, error) { return nil, fmt.Errorf("%q: %s", s, why) }
	u, err := url.Parse(s)
	if err != nil {
		return nil, err // a *url.Error, naming s
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fail("the scheme must be http or https (e.g. https://wimp.example)")
	case u.Opaque != "" || u.Host == "":
		return fail("not an absolute URL with a host (e.g. https://wimp.example)")
	case u.User != nil:
		return fail("user information (user@) is not allowed")
	case u.RawQuery != "" || u.ForceQuery:
		return fail("a query (?...) is not allowed")
	case u.Fragment != "" || strings.Contains(s, "#"):
		return fail("a fragment (#...) is not allowed")
	case !validHost(u.Host):
		return fail("the host must be a DNS name or an IP address (IPv6 in brackets), with an optional port 1-65535")
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = strings.TrimRight(u.RawPath, "/")
	return u, nil
}

// RemoteAddr is the client address to record for r (the audit trail's address).
//
// It is r.RemoteAddr (host:port, as net/http sets it) unless the TCP peer is inside a trusted
// prefix and r has X-Forwarded-For. Then the entries of every X-Forwarded-For line, in order,
// are walked from the right (each proxy appends the address it received the request from): the
// first one that is not itself trusted is the client. If every entry is trusted, the left-most
// is. An entry that is not an IP address (a forged or garbled one, or "unknown") stops the walk:
// the last valid address found is the client, or the peer if there is none. Entries may carry a
// port (192.0.2.1:4711, [2001:db8::1]:4711), as some proxies write them; the result from the
// header is the IP address alone. Empty list elements are skipped (RFC 9110 §5.6.1).
func (f *Forwarding) RemoteAddr(r *http.Request) string {
	peer, ok := parseIP(r.RemoteAddr)
	if !ok || !f.trusted(peer) {
		return r.RemoteAddr
	}
	var entries []string
	for _, line := range r.Header.Values("X-Forwarded-For") {
		for _, e := range strings.Split(line, ",") {
			if e = strings.TrimSpace(e); e != "" {
				entries = append(entries, e)
			}
		}
	}
	var last netip.Addr
	for i := len(entries) - 1; i >= 0; i-- {
		a, ok := parseIP(entries[i])
		if !ok {
			break
		}
		last = a
		if !f.trusted(a) {
			break
		}
	}
	if !last.IsValid() {
		return r.RemoteAddr
	}
	return last.String()
}

// BaseURL is the public base URL of this server for r, scheme://host[:port][/prefix] without a
// trailing slash: the WSDL's addresses are BaseURL(r)+"/WorkflowControl" and so on.
//
//  1. PublicURL when set, exactly (wins over every header).
//  2. Else, when the TCP peer is trusted and sends X-Forwarded-Proto and/or X-Forwarded-Host:
//     those. X-Forwarded-Proto must be http or https, X-Forwarded-Host a host[:port] (a DNS
//     name of letters, digits, '-', '.' and '_', or an IP address, IPv6 in brackets; port
//     1-65535). When a header holds a list (proxies that append), its right-most element, the
//     one the nearest (trusted) proxy wrote, is used. A missing or invalid one falls back to
//     the value of rule 3 for that part.
//  3. Else the connection itself: https when r.TLS != nil, else http, and the local address
//     the connection arrived on (http.LocalAddrContextKey, which net/http sets; IPv6 in
//     brackets). Without one (a handler called directly, as in unit tests, or a listener
//     whose addresses are not IP addresses) the host is the constant "localhost".
//
// The request's Host header is never used: a client controls it.
func (f *Forwarding) BaseURL(r *http.Request) string {
	if f != nil && f.PublicURL != nil {
		u := f.PublicURL
		return u.Scheme + "://" + u.Host + strings.TrimRight(u.EscapedPath(), "/")
	}
	scheme, host := "http", localHost(r)
	if r.TLS != nil {
		scheme = "https"
	}
	if peer, ok := parseIP(r.RemoteAddr); ok && f.trusted(peer) {
		if p, ok := lastElement(r.Header.Values("X-Forwarded-Proto")); ok {
			if p = strings.ToLower(p); p == "http" || p == "https" {
				scheme = p
			}
		}
		if h, ok := lastElement(r.Header.Values("X-Forwarded-Host")); ok && validHost(h) {
			host = h
		}
	}
	return scheme + "://" + host
}

// trusted reports whether a is inside one of the trusted prefixes.
func (f *Forwarding) trusted(a netip.Addr) bool {
	if f == nil {
		return false
	}
	for _, p := range f.Trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseIP parses an IP address, bare or with a port (1.2.3.4, 1.2.3.4:80, ::1, [::1]:80),
// without its zone and with IPv4-mapped IPv6 addresses in their IPv4 form, so that they compare
// with the trusted prefixes.
func parseIP(s string) (netip.Addr, bool) {
	var a netip.Addr
	if ap, err := netip.ParseAddrPort(s); err == nil {
		a = ap.Addr()
	} else if a, err = netip.ParseAddr(s); err != nil {
		return netip.Addr{}, false
	}
	return a.WithZone("").Unmap(), true
}

// lastElement is the right-most non-empty element of a comma-separated header's lines.
func lastElement(lines []string) (string, bool) {
	for i := len(lines) - 1; i >= 0; i-- {
		parts := strings.Split(lines[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			if e := strings.TrimSpace(parts[j]); e != "" {
				return e, true
			}
		}
	}
	return "", false
}

// localHost is the host[:port] of the local address r's connection arrived on, IPv6 in
// brackets (a zone percent-encoded, RFC 6874), or "localhost" when it is unknown.
func localHost(r *http.Request) string {
	addr, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok || addr == nil {
		return "localhost"
	}
	var ap netip.AddrPort
	if t, ok := addr.(*net.TCPAddr); ok {
		ap = t.AddrPort()
	} else {
		var err error
		if ap, err = netip.ParseAddrPort(addr.String()); err != nil {
			return "localhost"
		}
	}
	a := ap.Addr().Unmap()
	if !a.IsValid() {
		return "localhost"
	}
	host := a.WithZone("").String()
	if a.Is6() {
		if z := a.Zone(); z != "" {
			host += "%25" + url.PathEscape(z)
		}
		host = "[" + host + "]"
	}
	if ap.Port() != 0 {
		host += ":" + strconv.Itoa(int(ap.Port()))
	}
	return host
}

// validHost reports whether s is a host[:port] fit for a URL written into a WSDL: a DNS name
// (letters, digits, '-', '.', '_'; at most 253 characters, not starting with '.' or '-'), an
// IPv4 address, or an IPv6 address in brackets without a zone; optionally followed by ':' and a
// port 1-65535. Everything else, among it '/', '@', spaces, quotes, '%' and control
// characters, is refused.
func validHost(s string) bool {
	var port string
	var hasPort bool
	if rest, ok := strings.CutPrefix(s, "["); ok {
		addr, after, ok := strings.Cut(rest, "]")
		if !ok {
			return false
		}
		if a, err := netip.ParseAddr(addr); err != nil || !a.Is6() || a.Zone() != "" {
			return false
		}
		if after != "" {
			if port, hasPort = strings.CutPrefix(after, ":"); !hasPort {
				return false
			}
		}
	} else {
		var name string
		name, port, hasPort = strings.Cut(s, ":")
		if name == "" || len(name) > 253 || name[0] == '.' || name[0] == '-' {
			return false
		}
		for i := 0; i < len(name); i++ {
			switch c := name[i]; {
			case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '.', c == '_':
			default:
				return false
			}
		}
	}
	if !hasPort {
		return true
	}
	if len(port) == 0 || len(port) > 5 || strings.TrimLeft(port, "0123456789") != "" {
		return false
	}
	n, _ := strconv.Atoi(port)
	return n >= 1 && n <= 65535
}
