package server

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/wimp-project/wimp/wsdl"
)

// fwdRequest is a GET from remote (host:port) with the given header lines (name, value, ...),
// its Host header set to evil.example, as an attacker would.
func fwdRequest(remote string, headers ...string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/WorkflowControl?wsdl", nil)
	r.Host = "evil.example"
	r.RemoteAddr = remote
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	return r
}

// arrivedOn sets the local address net/http would have put in r's context.
func arrivedOn(r *http.Request, local string) *http.Request {
	ap := netip.MustParseAddrPort(local)
	return r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, net.TCPAddrFromAddrPort(ap)))
}

func mustPrefixes(t *testing.T, s string) []netip.Prefix {
	t.Helper()
	p, err := ParseTrustedProxies(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestForwardingRemoteAddr(t *testing.T) {
	ten := &Forwarding{Trusted: mustPrefixes(t, "10.0.0.0/8")}
	v6 := &Forwarding{Trusted: mustPrefixes(t, "2001:db8:a::/48")}
	for _, tc := range []struct {
		name    string
		f       *Forwarding
		remote  string
		headers []string
		want    string
	}{
		{"no proxies trusted: X-Forwarded-For ignored", &Forwarding{}, "203.0.113.9:5555",
			[]string{"X-Forwarded-For", "198.51.100.1"}, "203.0.113.9:5555"},
		{"nil Forwarding", nil, "203.0.113.9:5555",
			[]string{"X-Forwarded-For", "198.51.100.1"}, "203.0.113.9:5555"},
		{"untrusted peer: X-Forwarded-For ignored", ten, "203.0.113.9:5555",
			[]string{"X-Forwarded-For", "198.51.100.1, 10.0.0.2"}, "203.0.113.9:5555"},
		{"trusted peer without X-Forwarded-For", ten, "10.0.0.1:4000", nil, "10.0.0.1:4000"},
		{"trusted chain", ten, "10.0.0.1:4000",
			[]string{"X-Forwarded-For", "203.0.113.7, 10.0.0.2"}, "203.0.113.7"},
		{"forged left-most entries ignored", ten, "10.0.0.1:4000",
			[]string{"X-Forwarded-For", "10.9.9.9, 198.51.100.66, 203.0.113.7, 10.0.0.2"}, "203.0.113.7"},
		{"forged line before the proxies' line ignored", ten, "10.0.0.1:4000",
			[]string{"X-Forwarded-For", "198.51.100.66", "X-Forwarded-For", "203.0.113.7,10.0.0.2"}, "203.0.113.7"},
		{"lines are one list", ten, "10.0.0.1:4000",
			[]string{"X-Forwarded-For", "198.51.100.66, 203.0.113.7", "X-Forwarded-For", "10.0.0.3", "X-Forwarded-For", "10.0.0.2"}, "203.0.113.7"},
		{"all trusted: the left-most", ten, "10.0.0.1:4000",
			[]string{"X-Forwarded-For", "10.0.0.3, 10.0.0.2"}, "10.0.0.3"},
		{"invalid entry stops the walk at the last valid address", ten, "10.0.0.1:4000",
			[]string{"X-Forwarded-For", "203.0.113.7, <script>, 10.0.0.2"}, "10.0.0.2"},
		{"invalid right-most entry: the peer", ten, "10.0.0.1:4000",
			[]string{"X-Forwarded-For", "203.0.113.7, unknown"}, "10.0.0.1:4000"},
		{"only empty elements: the peer", ten, "10.0.0.1:4000",
			[]string{"X-Forwarded-For", " , "}, "10.0.0.1:4000"},
		{"empty list elements skipped", ten, "10.0.0.1:4000",
			[]string{"X-Forwarded-For", "203.0.113.7,, 10.0.0.2,"}, "203.0.113.7"},
		{"entries with ports", ten, "10.0.0.1:4000",
			[]string{"X-Forwarded-For", "203.0.113.7:61000, 10.0.0.2:443"}, "203.0.113.7"},
		{"IPv4-mapped peer is trusted as IPv4", ten, "[::ffff:10.0.0.1]:4000",
			[]string{"X-Forwarded-For", "203.0.113.7"}, "203.0.113.7"},
		{"IPv6 peer untrusted", ten, "[2001:db8::1]:443",
			[]string{"X-Forwarded-For", "203.0.113.7"}, "[2001:db8::1]:443"},
		{"IPv6 trusted chain", v6, "[2001:db8:a::1]:443",
			[]string{"X-Forwarded-For", "2001:db8:ffff::66, 2001:db8:b::7, 2001:db8:a::2"}, "2001:db8:b::7"},
		{"IPv6 entry with port", v6, "[2001:db8:a::1]:443",
			[]string{"X-Forwarded-For", "[2001:db8:b::7]:50000"}, "2001:db8:b::7"},
		{"IPv4 client behind IPv6 proxy", v6, "[2001:db8:a::1]:443",
			[]string{"X-Forwarded-For", "203.0.113.7"}, "203.0.113.7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.f.RemoteAddr(fwdRequest(tc.remote, tc.headers...)); got != tc.want {
				t.Errorf("RemoteAddr = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestForwardingBaseURL(t *testing.T) {
	ten := &Forwarding{Trusted: mustPrefixes(t, "10.0.0.0/8")}
	public, err := ParsePublicURL("https://wimp.example/prefix/")
	if err != nil {
		t.Fatal(err)
	}
	pub := &Forwarding{PublicURL: public, Trusted: ten.Trusted}
	const local = "192.0.2.10:8080"
	for _, tc := range []struct {
		name    string
		f       *Forwarding
		remote  string
		local   string // "" : no local address in the context
		tls     bool
		headers []string
		want    string
	}{
		{"Host header never used, no local address", &Forwarding{}, "203.0.113.9:5555", "", false, nil, "http://localhost"},
		{"Host header never used, TLS, no local address", &Forwarding{}, "203.0.113.9:5555", "", true, nil, "https://localhost"},
		{"nil Forwarding", nil, "203.0.113.9:5555", local, false, nil, "http://192.0.2.10:8080"},
		{"Host header never used: the local address", &Forwarding{}, "203.0.113.9:5555", local, false, nil, "http://192.0.2.10:8080"},
		{"TLS", &Forwarding{}, "203.0.113.9:5555", "192.0.2.10:8443", true, nil, "https://192.0.2.10:8443"},
		{"IPv6 local address", &Forwarding{}, "[2001:db8::9]:5555", "[2001:db8::10]:8080", false, nil, "http://[2001:db8::10]:8080"},
		{"IPv4-mapped local address", &Forwarding{}, "[::ffff:203.0.113.9]:5555", "[::ffff:192.0.2.10]:8080", false, nil, "http://192.0.2.10:8080"},
		{"untrusted peer: X-Forwarded-* ignored", ten, "203.0.113.9:5555", local, false,
			[]string{"X-Forwarded-Host", "evil.example", "X-Forwarded-Proto", "https"}, "http://192.0.2.10:8080"},
		{"no proxies trusted: X-Forwarded-* ignored", &Forwarding{}, "10.0.0.1:4000", local, false,
			[]string{"X-Forwarded-Host", "evil.example", "X-Forwarded-Proto", "https"}, "http://192.0.2.10:8080"},
		{"trusted proxy", ten, "10.0.0.1:4000", local, false,
			[]string{"X-Forwarded-Host", "wimp.example", "X-Forwarded-Proto", "https"}, "https://wimp.example"},
		{"trusted proxy, host with port, proto in capitals", ten, "10.0.0.1:4000", local, false,
			[]string{"X-Forwarded-Host", "wimp.example:8443", "X-Forwarded-Proto", "HTTPS"}, "https://wimp.example:8443"},
		{"trusted proxy, IPv6 host", ten, "10.0.0.1:4000", local, false,
			[]string{"X-Forwarded-Host", "[2001:db8::80]:8443"}, "http://[2001:db8::80]:8443"},
		{"trusted proxy, proto only", ten, "10.0.0.1:4000", local, false,
			[]string{"X-Forwarded-Proto", "https"}, "https://192.0.2.10:8080"},
		{"trusted proxy, host only, over TLS", ten, "10.0.0.1:4000", local, true,
			[]string{"X-Forwarded-Host", "wimp.example"}, "https://wimp.example"},
		{"trusted proxy, proto http over TLS", ten, "10.0.0.1:4000", local, true,
			[]string{"X-Forwarded-Proto", "http"}, "http://192.0.2.10:8080"},
		{"trusted proxy, bad proto", ten, "10.0.0.1:4000", local, false,
			[]string{"X-Forwarded-Proto", "javascript", "X-Forwarded-Host", "wimp.example"}, "http://wimp.example"},
		{"trusted proxy, lists: the right-most", ten, "10.0.0.1:4000", local, false,
			[]string{"X-Forwarded-Host", "evil.example, wimp.example", "X-Forwarded-Proto", "http", "X-Forwarded-Proto", "https"}, "https://wimp.example"},
		{"PublicURL wins", pub, "10.0.0.1:4000", local, true,
			[]string{"X-Forwarded-Host", "other.example", "X-Forwarded-Proto", "http"}, "https://wimp.example/prefix"},
		{"PublicURL wins without a local address", pub, "203.0.113.9:5555", "", false, nil, "https://wimp.example/prefix"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := fwdRequest(tc.remote, tc.headers...)
			if tc.local != "" {
				r = arrivedOn(r, tc.local)
			}
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			}
			if got := tc.f.BaseURL(r); got != tc.want {
				t.Errorf("BaseURL = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestForwardingBadForwardedHost(t *testing.T) {
	f := &Forwarding{Trusted: mustPrefixes(t, "10.0.0.0/8")}
	for _, h := range []string{
		"evil.example/path", "evil.example/", "user@evil.example", "evil example", "evil.example\tx",
		"evil\x00.example", "evil.example\r\nX-Injected: 1", "evil.example\x7f", `wimp.example"><x`,
		"wimp.example'", "%65vil.example", "evil.example:", "evil.example:0", "evil.example:65536",
		"evil.example:80:80", "evil.example:http", "2001:db8::1", "[2001:db8::1", "[2001:db8::1]x",
		"[192.0.2.1]", "[fe80::1%25eth0]", ".evil.example", "-evil.example", "evil.example?x", "evil.example#x",
		"évil.example", strings.Repeat("a", 254),
	} {
		r := arrivedOn(fwdRequest("10.0.0.1:4000", "X-Forwarded-Host", h, "X-Forwarded-Proto", "https"), "192.0.2.10:8080")
		if got := f.BaseURL(r); got != "https://192.0.2.10:8080" {
			t.Errorf("X-Forwarded-Host %q: BaseURL = %q, want https://192.0.2.10:8080", h, got)
		}
	}
}

func TestForwardingPublicURLSetDirectly(t *testing.T) {
	u, err := url.Parse("https://wimp.example:8443/a%20b/")
	if err != nil {
		t.Fatal(err)
	}
	f := &Forwarding{PublicURL: u}
	if got := f.BaseURL(fwdRequest("203.0.113.9:5555")); got != "https://wimp.example:8443/a%20b" {
		t.Errorf("BaseURL = %q, want https://wimp.example:8443/a%%20b", got)
	}
}

func TestParsePublicURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://wimp.example":            "https://wimp.example",
		"https://wimp.example/":           "https://wimp.example",
		"http://wimp.example:8080/wimp//": "http://wimp.example:8080/wimp",
		"HTTPS://wimp.example/a%20b":      "https://wimp.example/a%20b",
		"https://[2001:db8::1]:8443/x":    "https://[2001:db8::1]:8443/x",
		"http://192.0.2.1":                "http://192.0.2.1",
	} {
		u, err := ParsePublicURL(in)
		if err != nil {
			t.Errorf("ParsePublicURL(%q): %v", in, err)
			continue
		}
		if got := (&Forwarding{PublicURL: u}).BaseURL(fwdRequest("203.0.113.9:5555")); got != want {
			t.Errorf("ParsePublicURL(%q): BaseURL %q, want %q", in, got, want)
		}
	}
	if u, err := ParsePublicURL(""); u != nil || err != nil {
		t.Errorf(`ParsePublicURL(""): %v, %v; want nil, nil`, u, err)
	}
	for in, want := range map[string]string{
		"ftp://wimp.example":           `"ftp://wimp.example": the scheme must be http or https (e.g. https://wimp.example)`,
		"wimp.example":                 `"wimp.example": the scheme must be http or https (e.g. https://wimp.example)`,
		"/wimp":                        `"/wimp": the scheme must be http or https (e.g. https://wimp.example)`,
		"https://":                     `"https://": not an absolute URL with a host (e.g. https://wimp.example)`,
		"https:wimp.example":           `"https:wimp.example": not an absolute URL with a host (e.g. https://wimp.example)`,
		"https://user:pw@wimp.example": `"https://user:pw@wimp.example": user information (user@) is not allowed`,
		"https://wimp.example/?a=1":    `"https://wimp.example/?a=1": a query (?...) is not allowed`,
		"https://wimp.example/?":       `"https://wimp.example/?": a query (?...) is not allowed`,
		"https://wimp.example/#top":    `"https://wimp.example/#top": a fragment (#...) is not allowed`,
		"https://wimp.example#":        `"https://wimp.example#": a fragment (#...) is not allowed`,
		"https://wimp.example:0":       `"https://wimp.example:0": the host must be a DNS name or an IP address (IPv6 in brackets), with an optional port 1-65535`,
		"https://wimp.example:99999":   `"https://wimp.example:99999": the host must be a DNS name or an IP address (IPv6 in brackets), with an optional port 1-65535`,
		// net/url's reason follows (its wording is net/url's).
		"https://wimp.example:8443:1/x": `parse "https://wimp.example:8443:1/x": `,
	} {
		u, err := ParsePublicURL(in)
		if err == nil {
			t.Errorf("ParsePublicURL(%q) = %v, want an error", in, u)
		} else if err.Error() != want && !(strings.HasSuffix(want, ": ") && strings.HasPrefix(err.Error(), want)) {
			t.Errorf("ParsePublicURL(%q): error\n%s\nwant\n%s", in, err, want)
		}
	}
}

func TestParseTrustedProxyList(t *testing.T) {
	for _, s := range []string{"", "  "} {
		if p, err := ParseTrustedProxies(s); p != nil || err != nil {
			t.Errorf("ParseTrustedProxies(%q) = %v, %v; want nil, nil", s, p, err)
		}
	}
	got, err := ParseTrustedProxies("10.0.0.0/8, 192.0.2.1,2001:db8::/32 , ::1,10.1.2.3/16,::ffff:172.16.0.0/108,::ffff:198.51.100.1")
	if err != nil {
		t.Fatal(err)
	}
	var want []netip.Prefix
	for _, p := range []string{"10.0.0.0/8", "192.0.2.1/32", "2001:db8::/32", "::1/128", "10.1.0.0/16", "172.16.0.0/12", "198.51.100.1/32"} {
		want = append(want, netip.MustParsePrefix(p))
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseTrustedProxies = %v, want %v", got, want)
	}
	// An error ending in ": " is followed by net/netip's reason (its wording is net/netip's).
	for in, want := range map[string]string{
		"10.0.0.0/8,10.0.0.0/33": `entry 2 "10.0.0.0/33" is not a CIDR prefix (e.g. 10.0.0.0/8, 2001:db8::/32): `,
		"10.0.0.0/8,proxy.lan":   `entry 2 "proxy.lan" is not an IP address or CIDR prefix (e.g. 192.0.2.1, 10.0.0.0/8): `,
		"10.0.0.0/8 192.0.2.1":   `entry 1 "10.0.0.0/8 192.0.2.1" is not a CIDR prefix (e.g. 10.0.0.0/8, 2001:db8::/32): `,
		"300.0.0.1":              `entry 1 "300.0.0.1" is not an IP address or CIDR prefix (e.g. 192.0.2.1, 10.0.0.0/8): `,
		"10.0.0.0/8,":            `entry 2 is empty (want CIDR[,CIDR...], e.g. 10.0.0.0/8,192.0.2.1)`,
		"fe80::1%eth0":           `entry 1 "fe80::1%eth0" has an IPv6 zone; give the address without it`,
	} {
		p, err := ParseTrustedProxies(in)
		if err == nil {
			t.Errorf("ParseTrustedProxies(%q) = %v, want an error", in, p)
		} else if err.Error() != want && !(strings.HasSuffix(want, ": ") && strings.HasPrefix(err.Error(), want)) {
			t.Errorf("ParseTrustedProxies(%q): error\n%s\nwant\n%s", in, err, want)
		}
	}
}

// TestForwardingRealServer serves the control WSDL as server.New does, through net/http (which
// sets http.LocalAddrContextKey): a Host header naming another server changes nothing.
func TestForwardingRealServer(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		f := &Forwarding{}
		// The same loopback peer, trusted as a proxy.
		proxied := &Forwarding{Trusted: mustPrefixes(t, "127.0.0.0/8")}
		handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/whoami":
				_, _ = io.WriteString(w, f.BaseURL(r)+" "+f.RemoteAddr(r))
				return
			case "/proxied/whoami":
				_, _ = io.WriteString(w, proxied.BaseURL(r)+" "+proxied.RemoteAddr(r))
				return
			}
			wsdl.ServeControlMetadata(w, r, f.BaseURL(r)+controlPath)
		})
		var srv *httptest.Server
		if useTLS {
			srv = httptest.NewTLSServer(handler)
		} else {
			srv = httptest.NewServer(handler)
		}
		defer srv.Close()
		port := srv.Listener.Addr().(*net.TCPAddr).Port
		wantBase := "http://127.0.0.1:" + strconv.Itoa(port)
		if useTLS {
			wantBase = "https://127.0.0.1:" + strconv.Itoa(port)
		}

		get := func(path string, headers ...string) string {
			t.Helper()
			req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Host = "evil.example"
			for i := 0; i+1 < len(headers); i += 2 {
				req.Header.Add(headers[i], headers[i+1])
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: %s: %s", path, resp.Status, b)
			}
			return string(b)
		}

		doc := get("/WorkflowControl?wsdl", "X-Forwarded-Host", "evil.example", "X-Forwarded-Proto", "https")
		if want := `location="` + wantBase + `/WorkflowControl"`; !strings.Contains(doc, want) {
			t.Errorf("TLS %v: the WSDL has no %s", useTLS, want)
		}
		if strings.Contains(doc, "evil.example") {
			t.Errorf("TLS %v: the WSDL names evil.example", useTLS)
		}

		who := get("/whoami", "X-Forwarded-For", "203.0.113.7")
		base, remote, _ := strings.Cut(who, " ")
		if base != wantBase {
			t.Errorf("TLS %v: BaseURL %q, want %q", useTLS, base, wantBase)
		}
		if !strings.HasPrefix(remote, "127.0.0.1:") {
			t.Errorf("TLS %v: RemoteAddr %q, want the TCP peer 127.0.0.1:PORT", useTLS, remote)
		}

		who = get("/proxied/whoami", "X-Forwarded-For", "198.51.100.66, 203.0.113.7", "X-Forwarded-Host", "wimp.example", "X-Forwarded-Proto", "https")
		if want := "https://wimp.example 203.0.113.7"; who != want {
			t.Errorf("TLS %v: behind a trusted proxy: %q, want %q", useTLS, who, want)
		}
	}
}
