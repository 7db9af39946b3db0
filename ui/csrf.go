package ui

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/wimp-project/wimp/host"
)

// TokenHeader is the request header that carries the CSRF token on state-changing requests.
const TokenHeader = "X-Wimp-Csrf-Token"

// token is the CSRF token of the user name: HMAC-SHA256 under the dashboard's secret. The page
// reads it from GET /ui/api/session, which another origin cannot read (no CORS), and sends it
// back in TokenHeader, which a cross-site form cannot set. Tied to the verified user name, so
// one user's token is no use for another's credentials.
func (u *handler) token(user string) string {
	m := hmac.New(sha256.New, u.secret)
	m.Write([]byte("wimp-ui-csrf-v1\x00"))
	m.Write([]byte(user))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// checkForgery refuses a state-changing request that a page of another origin could have
// sent: it must come from this origin (Sec-Fetch-Site, and Origin, when the browser sends
// them: one of them at least), carry the caller's token, and be JSON (not a type a plain HTML
// form can send). Nil when it may go on.
func (u *handler) checkForgery(r *http.Request) *apiError {
	forbidden := func(code, msg string) *apiError { return &apiError{http.StatusForbidden, code, msg} }
	site := r.Header.Values("Sec-Fetch-Site")
	origin := r.Header.Values("Origin")
	switch {
	case len(site) == 0 && len(origin) == 0:
		return forbidden("CrossOrigin", "a state-changing request must say where it comes from (an Origin or Sec-Fetch-Site header)")
	case len(site) > 1 || len(origin) > 1:
		return forbidden("CrossOrigin", "the request has more than one Origin or Sec-Fetch-Site header")
	case len(site) == 1 && site[0] != "same-origin":
		return forbidden("CrossOrigin", "the request comes from another site (Sec-Fetch-Site: "+site[0]+"); only the dashboard's own pages may change instances")
	case len(origin) == 1 && !sameOrigin(origin[0], r.Host):
		return forbidden("CrossOrigin", "the request's Origin "+origin[0]+" is not this server's; only the dashboard's own pages may change instances")
	}
	got := r.Header.Values(TokenHeader)
	switch {
	case len(got) == 0 || got[0] == "":
		return forbidden("CSRFTokenMissing", "the request has no "+TokenHeader+" header; reload the page")
	case len(got) > 1 || !hmac.Equal([]byte(got[0]), []byte(u.token(host.PrincipalFrom(r.Context()).Name))):
		return forbidden("CSRFTokenInvalid", "the request's "+TokenHeader+" is not this user's token (the server may have restarted); reload the page")
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return &apiError{http.StatusUnsupportedMediaType, "UnsupportedMediaType", "the request body must be application/json"}
	}
	return nil
}

// sameOrigin reports whether origin (an Origin header) names the host the request was sent to.
// The scheme is not compared: behind a TLS-terminating proxy the request arrives over plain
// HTTP from an https page.
func sameOrigin(origin, reqHost string) bool {
	o, err := url.Parse(origin)
	if err != nil || (o.Scheme != "http" && o.Scheme != "https") || o.Host == "" || o.Path != "" || o.User != nil {
		return false
	}
	return strings.EqualFold(o.Host, reqHost) || strings.EqualFold(withDefaultPort(o.Host, o.Scheme), withDefaultPort(reqHost, o.Scheme))
}

func withDefaultPort(h, scheme string) string {
	if strings.HasSuffix(h, "]") || !strings.Contains(h, ":") {
		if scheme == "https" {
			return h + ":443"
		}
		return h + ":80"
	}
	return h
}
