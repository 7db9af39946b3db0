package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wimp-project/wimp/auth"
	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/soap"
)

// DefaultClockSkew is how far a WS-Security Timestamp may be off the server's clock.
const DefaultClockSkew = 5 * time.Minute

// Basic is the challenge of a 401 reply (RFC 7617).
const basicChallenge = `Basic realm="wimp"`

// security authenticates every request (README, Security). Without an authenticator the
// server is open: every caller is the anonymous admin (a loopback listener without a users
// file, or --insecure), and credentials a request brings cannot be checked, so they are
// refused rather than ignored. With one, a request is authenticated by HTTP Basic, a verified
// client certificate, or (on the SOAP endpoints) a WS-Security UsernameToken; one with none of
// them reaches only the open URLs (?wsdl, /healthz, the help texts) and is otherwise answered
// 401 with a Basic challenge. Roles are the host's to check (host.Authorize).
type security struct {
	auth *auth.Authenticator // nil: open
	fwd  *Forwarding         // nil: the TCP peer is the client
	skew time.Duration
	// peer checks the principal another node of the store asserts (auth.VerifyPrincipal).
	peer *host.Host
	// maxBody bounds the body of a request with an asserted principal, read to check it.
	maxBody int64
}

// authState tells the SOAP endpoints what the HTTP layer found.
type authState int

const (
	open            authState = iota // no authentication configured: the anonymous admin
	authenticated                    // Basic or a client certificate
	unauthenticated                  // nothing yet: a UsernameToken may still come
	asserted                         // by another node of the store, which authenticated the caller
)

type authStateKey struct{}

func stateOf(ctx context.Context) authState {
	s, _ := ctx.Value(authStateKey{}).(authState)
	return s
}

func (s *security) remoteAddr(r *http.Request) string {
	if s.fwd != nil {
		return s.fwd.RemoteAddr(r)
	}
	return r.RemoteAddr
}

// errNoUsers refuses credentials that an open server cannot check.
var errNoUsers = errors.New("this server has no users file, so it cannot check credentials; send none")

// middleware puts the request's principal and authState into its context, or refuses bad
// credentials (401, or 429 while the address is limited).
func (s *security) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		asserts := r.Header.Get(auth.AssertionHeader) != "" || r.Header.Get(auth.SignatureHeader) != ""
		if asserts || r.Header.Get(ForwardedByHeader) != "" {
			ctx = host.WithoutPeers(ctx) // from another node: applied here or refused, never sent on
		}
		var p host.Principal
		var state authState
		var err error
		if asserts {
			p, err = s.fromPeer(r)
			state = asserted
		} else {
			p, state, err = s.fromHTTP(r, s.remoteAddr(r))
		}
		if err != nil {
			refuseHTTP(w, err)
			return
		}
		ctx = context.WithValue(host.WithPrincipal(ctx, p), authStateKey{}, state)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func (s *security) fromHTTP(r *http.Request, addr string) (host.Principal, authState, error) {
	hasAuthorization := r.Header.Get("Authorization") != ""
	if s.auth == nil {
		if hasAuthorization {
			return host.Principal{}, 0, errNoUsers
		}
		return host.Principal{Name: host.Anonymous, Address: addr, Role: host.Admin}, open, nil
	}
	if hasAuthorization {
		name, password, ok := r.BasicAuth()
		if !ok {
			return host.Principal{}, 0, errors.New("the Authorization header is not HTTP Basic credentials")
		}
		u, err := s.auth.Password(addr, "basic", name, password)
		if err != nil {
			return host.Principal{}, 0, err
		}
		return host.Principal{Name: u.Name, Address: addr, Role: u.Role}, authenticated, nil
	}
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
		return s.auth.Certificate(addr, r.TLS.PeerCertificates[0]), authenticated, nil
	}
	return host.Principal{Name: host.Anonymous, Address: addr, Role: host.NoRole}, unauthenticated, nil
}

// errMisdirected: an asserted principal meant for another node (this one restarted under a new
// registration since the sender looked): 421, and the sender answers as if it had not asked.
var errMisdirected = &soap.StatusError{Status: http.StatusMisdirectedRequest,
	Text: "421 misdirected request: the forwarded request is for another registration of this node"}

// fromPeer is the principal another node asserts for r, which it forwarded (auth.VerifyPrincipal
// under the store's cluster secret); the body is read to check the signature, then restored.
func (s *security) fromPeer(r *http.Request) (host.Principal, error) {
	forbidden := func(why string) (host.Principal, error) {
		return host.Principal{}, &soap.StatusError{Status: http.StatusForbidden, Text: "403 forbidden: " + why}
	}
	if s.peer == nil {
		return forbidden("this server does not accept principals asserted by other nodes")
	}
	key, err := s.peer.ClusterSecret(r.Context())
	if err != nil {
		return host.Principal{}, &soap.StatusError{Status: http.StatusServiceUnavailable,
			Text: "503 service unavailable: the cluster secret cannot be read from the store: " + err.Error()}
	}
	var body []byte
	if r.Body != nil {
		body, err = io.ReadAll(io.LimitReader(r.Body, s.maxBody+1))
		if err != nil {
			return forbidden("reading the body: " + err.Error())
		}
		if int64(len(body)) > s.maxBody {
			return host.Principal{}, &soap.StatusError{Status: http.StatusRequestEntityTooLarge,
				Text: fmt.Sprintf("413 request entity too large: the body is over %d bytes", s.maxBody)}
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	p, _, err := auth.VerifyPrincipal(key, r.Header.Get(auth.AssertionHeader), r.Header.Get(auth.SignatureHeader),
		s.peer.Self(), time.Now(), r.Method, r.URL.RequestURI(), body)
	switch {
	case errors.Is(err, auth.ErrOtherNode):
		return host.Principal{}, errMisdirected
	case err != nil:
		return forbidden(err.Error())
	}
	return p, nil
}

// refuseHTTP answers a request whose credentials failed: 429 with Retry-After while its
// address is limited, else 401 with the Basic challenge. The reply never says which part of
// the credentials was wrong.
func refuseHTTP(w http.ResponseWriter, err error) {
	var se *soap.StatusError
	if !errors.As(err, &se) {
		se = asStatus(err)
	}
	for k, vs := range se.Header {
		w.Header()[k] = vs
	}
	http.Error(w, se.Text, se.Status)
}

// asStatus turns an authentication failure into its HTTP answer.
func asStatus(err error) *soap.StatusError {
	if retry, ok := auth.IsLimited(err); ok {
		secs := int(math.Ceil(retry.Seconds()))
		return &soap.StatusError{Status: http.StatusTooManyRequests,
			Header: http.Header{"Retry-After": {strconv.Itoa(max(secs, 1))}},
			Text:   "429 too many requests: " + err.Error()}
	}
	text := "401 unauthorized: authentication is required"
	if err != nil {
		text = "401 unauthorized: " + err.Error()
	}
	return &soap.StatusError{Status: http.StatusUnauthorized, Header: http.Header{"Www-Authenticate": {basicChallenge}}, Text: text}
}

// authenticateSOAP is the SOAP endpoints' Authenticate: a UsernameToken authenticates the
// request (over TLS or from loopback only); without one, a request the HTTP layer did not
// authenticate gets 401.
func (s *security) authenticateSOAP(ctx context.Context, r *http.Request, sec *soap.Security) (context.Context, error) {
	if sec != nil {
		if f := sec.CheckTimestamp(time.Now(), s.skew); f != nil {
			return nil, f
		}
	}
	if stateOf(ctx) == asserted {
		return ctx, nil // the node that forwarded the request authenticated its token
	}
	if sec == nil || sec.Username == nil {
		if stateOf(ctx) == unauthenticated {
			return nil, asStatus(nil)
		}
		return ctx, nil
	}
	t := sec.Username
	switch {
	case s.auth == nil:
		return nil, soap.SecurityFault(soap.FailedAuthentication, "The security token could not be authenticated or authorized: "+errNoUsers.Error()+".")
	case !s.confidential(r):
		return nil, soap.SecurityFault(soap.FailedAuthentication,
			"The security token could not be authenticated or authorized: a UsernameToken is accepted only over TLS or from a loopback address.")
	case t.Type != soap.PasswordText:
		return nil, soap.SecurityFault(soap.UnsupportedSecurityToken,
			"An unsupported token was provided: only UsernameToken passwords of type PasswordText are accepted.")
	}
	addr := host.PrincipalFrom(ctx).Address
	u, err := s.auth.Password(addr, "wsse", t.Username, t.Password)
	if _, limited := auth.IsLimited(err); limited {
		return nil, asStatus(err)
	}
	if err != nil {
		return nil, soap.SecurityFault(soap.FailedAuthentication, "The security token could not be authenticated or authorized.")
	}
	return host.WithPrincipal(ctx, host.Principal{Name: u.Name, Address: addr, Role: u.Role}), nil
}

// confidential reports whether a password in the request's body travelled safely: over TLS, or
// from a loopback peer that is not relaying a request from elsewhere (a trusted proxy on
// loopback must say it received the request over https).
func (s *security) confidential(r *http.Request) bool {
	switch {
	case r.TLS != nil:
		return true
	case !loopbackPeer(r):
		return false
	case s.remoteAddr(r) == r.RemoteAddr:
		return true
	}
	proto := r.Header.Values("X-Forwarded-Proto")
	return len(proto) > 0 && strings.EqualFold(strings.TrimSpace(proto[len(proto)-1]), "https")
}

// loopbackPeer reports whether the TCP peer is on a loopback address.
func loopbackPeer(r *http.Request) bool {
	h, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// authorized lets a request through to next only when its principal has role need: 401 when
// the HTTP layer did not authenticate it, 403 when its role is too low.
func authorized(h *host.Host, what string, need host.Role, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if stateOf(r.Context()) == unauthenticated {
			refuseHTTP(w, nil)
			return
		}
		if err := h.Authorize(r.Context(), what, need); err != nil {
			http.Error(w, fmt.Sprintf("403 forbidden: %s (%s needs the %s role)", "Access is denied.", what, need), http.StatusForbidden)
			return
		}
		next(w, r)
	}
}
