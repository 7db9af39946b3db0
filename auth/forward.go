package auth

// Principals asserted between nodes (README, "Running several nodes"). A node that hands an
// operation to the node holding its instance has already authenticated the caller — by a
// password, a client certificate the holder never sees, or a bulk job's stored principal — and
// says who it was in AssertionHeader, signed in SignatureHeader with HMAC-SHA256 under the key
// every node of the store shares (store.Store.ClusterSecret). The signature covers the
// assertion (principal, both nodes, the time) and the request it rides on (method, URI, a
// SHA-256 of the body), so it cannot be moved to another request, another node, or replayed
// after MaxAssertionAge.

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wimp-project/wimp/host"
)

const (
	// AssertionHeader carries the asserted principal: base64url (no padding) of its JSON.
	AssertionHeader = "Wimp-Principal"
	// SignatureHeader carries HMAC-SHA256 of the assertion and its request, base64url.
	SignatureHeader = "Wimp-Principal-Signature"
	// MaxAssertionAge is how far an assertion's time may be from the receiver's clock (the
	// nodes' clocks must agree far better than that: a third of the lease).
	MaxAssertionAge = 30 * time.Second
	// maxAssertion bounds the header a receiver decodes.
	maxAssertion = 4 << 10
)

// Assertion is who asked, as the node handing the request on (From) tells the node it is
// for (To); both are owner registration ids.
type Assertion struct {
	Name    string `json:"name"`
	Address string `json:"address,omitempty"`
	Role    string `json:"role"` // reader, operator or admin
	From    string `json:"from"`
	To      string `json:"to"`
	Time    int64  `json:"time"` // unix milliseconds
}

// ErrAssertion: an asserted principal that is malformed, badly signed, stale or for another
// node. Nothing is done with such a request.
var ErrAssertion = errors.New("the forwarded principal is not valid")

// ErrOtherNode: a well-signed assertion for another registration than the receiver's (it
// restarted since the sender looked the holder up); also an ErrAssertion.
var ErrOtherNode = errors.New("it is for another node")

// AssertPrincipal returns the two header values asserting p for the request (method, uri,
// body) that node from hands to node to at now.
func AssertPrincipal(key []byte, p host.Principal, from, to string, now time.Time, method, uri string, body []byte) (assertion, signature string) {
	b, _ := json.Marshal(Assertion{Name: p.Name, Address: p.Address, Role: p.Role.String(), From: from, To: to, Time: now.UnixMilli()})
	assertion = base64.RawURLEncoding.EncodeToString(b)
	return assertion, base64.RawURLEncoding.EncodeToString(sign(key, assertion, method, uri, body))
}

// VerifyPrincipal checks the header values of a request (method, uri, body) that node self
// received at now, and returns the principal asserted and the node that asserted it.
func VerifyPrincipal(key []byte, assertion, signature, self string, now time.Time, method, uri string, body []byte) (host.Principal, string, error) {
	bad := func(why string) (host.Principal, string, error) {
		return host.Principal{}, "", fmt.Errorf("%w: %s", ErrAssertion, why)
	}
	if len(assertion) > maxAssertion || len(signature) > maxAssertion {
		return bad("header too long")
	}
	// Strict: a signature or assertion has one encoding only (the unused low bits of the last
	// character must be zero), so an accepted header is exactly the one the sender made.
	mac, err := base64.RawURLEncoding.Strict().DecodeString(signature)
	if err != nil {
		return bad("the signature is not base64url")
	}
	if !hmac.Equal(mac, sign(key, assertion, method, uri, body)) {
		return bad("the signature does not match (another cluster secret, or the request was changed)")
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(assertion)
	if err != nil {
		return bad("the assertion is not base64url")
	}
	var a Assertion
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		return bad("the assertion is not its JSON: " + err.Error())
	}
	role, err := host.ParseRole(a.Role)
	switch {
	case err != nil:
		return bad(err.Error())
	case a.Name == "" || a.From == "":
		return bad("no principal name or asserting node")
	case a.To != self:
		return host.Principal{}, "", fmt.Errorf("%w: %w: %q, not this one (%q)", ErrAssertion, ErrOtherNode, a.To, self)
	}
	if age := now.Sub(time.UnixMilli(a.Time)); age > MaxAssertionAge || age < -MaxAssertionAge {
		return bad(fmt.Sprintf("made %v from this node's clock (at most %v)", age.Round(time.Millisecond), MaxAssertionAge))
	}
	return host.Principal{Name: a.Name, Address: a.Address, Role: role}, a.From, nil
}

// sign is the MAC of an assertion on its request. Fields are NUL-separated: none of them can
// hold a NUL (a header value, an HTTP method and request URI cannot).
func sign(key []byte, assertion, method, uri string, body []byte) []byte {
	sum := sha256.Sum256(body)
	m := hmac.New(sha256.New, key)
	m.Write([]byte("wimp-principal-v1\x00" + assertion + "\x00" + method + "\x00" + uri + "\x00"))
	m.Write(sum[:])
	return m.Sum(nil)
}
