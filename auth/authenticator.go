package auth

import (
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/wimp-project/wimp/host"
)

// LimitedError: the address failed too often; it may try again after Retry.
type LimitedError struct{ Retry time.Duration }

func (e *LimitedError) Error() string {
	return fmt.Sprintf("too many failed authentication attempts from this address; retry in %v", e.Retry.Round(time.Second))
}

// Authenticator checks credentials for the server: passwords against the users file with
// failures limited per address, and client certificates against the users' names.
type Authenticator struct {
	verifier *Verifier
	limiter  *Limiter
	log      *slog.Logger

	mu       sync.Mutex
	failures map[string]uint64 // "mechanism/result"
}

func (a *Authenticator) failed(mechanism, result string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.failures == nil {
		a.failures = map[string]uint64{}
	}
	a.failures[mechanism+"/"+result]++
}

// Failures counts failed authentications since start by "mechanism/result" (result:
// bad-credentials, or limited when refused while the address was limited), for /metrics.
func (a *Authenticator) Failures() map[string]uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[string]uint64, len(a.failures))
	for k, v := range a.failures {
		out[k] = v
	}
	return out
}

// NewAuthenticator returns an authenticator over v (its users may be replaced at any time).
func NewAuthenticator(v *Verifier, log *slog.Logger) *Authenticator {
	return &Authenticator{verifier: v, limiter: NewLimiter(), log: log}
}

// Verifier is the authenticator's verifier (to reload the users).
func (a *Authenticator) Verifier() *Verifier { return a.verifier }

// limitKey is the address failures are counted under: its IP, without the port.
func limitKey(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

// Password authenticates name with password for a caller at addr (how: "basic" or "wsse", for
// the log). The error is ErrBadCredentials or a *LimitedError; the password is never logged.
func (a *Authenticator) Password(addr, how, name, password string) (*User, error) {
	key := limitKey(addr)
	if ok, retry := a.limiter.Allow(key); !ok {
		a.failed(how, "limited")
		a.log.Warn("authentication refused: too many failures", "address", addr, "mechanism", how, "retry", retry.Round(time.Second))
		return nil, &LimitedError{Retry: retry}
	}
	u, err := a.verifier.Password(name, password)
	if err != nil {
		a.limiter.Fail(key)
		a.failed(how, "bad-credentials")
		a.log.Warn("authentication failed", "address", addr, "mechanism", how, "user", name)
		return nil, err
	}
	return u, nil
}

// Certificate returns the principal of a verified client certificate: its subject CN, with
// the role of the user of that name, or no role when the users file does not list it.
func (a *Authenticator) Certificate(addr string, cert *x509.Certificate) host.Principal {
	p := host.Principal{Name: cert.Subject.CommonName, Address: addr}
	if u, ok := a.verifier.Users().Lookup(p.Name); ok {
		p.Role = u.Role
	} else {
		a.log.Warn("client certificate of a name the users file does not list: no role", "address", addr, "cn", p.Name)
	}
	return p
}

// IsLimited reports whether err is a *LimitedError, and its retry time.
func IsLimited(err error) (time.Duration, bool) {
	var le *LimitedError
	if errors.As(err, &le) {
		return le.Retry, true
	}
	return 0, false
}
