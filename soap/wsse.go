package soap

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/beevik/etree"
)

// WS-Security 1.0 (OASIS WSS: SOAP Message Security 1.0 and the Username Token Profile 1.0).
const (
	// NSWSSE is the namespace of the Security header, UsernameToken and the WSS fault codes.
	NSWSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
	// NSWSU is the utility namespace (Timestamp, Created, Expires, Id).
	NSWSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
	// PasswordText and PasswordDigest are the Username Token Profile's Password types.
	PasswordText   = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText"
	PasswordDigest = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
)

// The WSS 1.0 fault codes (SOAP Message Security 1.0, §12) this package answers with: Sender
// faults whose subcode (SOAP 1.1: faultcode) is in NSWSSE.
var (
	FailedAuthentication     = QName{NSWSSE, "FailedAuthentication"}
	InvalidSecurity          = QName{NSWSSE, "InvalidSecurity"}
	UnsupportedSecurityToken = QName{NSWSSE, "UnsupportedSecurityToken"}
	MessageExpired           = QName{NSWSSE, "MessageExpired"}
)

// SecurityFault is a WSS fault: Sender, subcode code.
func SecurityFault(code QName, reason string) *Fault { return NewFault(Sender, reason, code) }

// Security is what a request's wsse:Security header (the one addressed to this endpoint)
// carries.
type Security struct {
	Username *UsernameToken // nil when the header has no UsernameToken
	// Created and Expires are its wsu:Timestamp's; zero when absent.
	Created, Expires time.Time
}

// UsernameToken is a WSS UsernameToken.
type UsernameToken struct {
	Username string
	Password string
	// Type is the Password's Type attribute (PasswordText when absent).
	Type string
}

// isSecurityHeader reports whether h is a wsse:Security header block.
func isSecurityHeader(h *etree.Element) bool { return h.Tag == "Security" && nsOf(h) == NSWSSE }

// readSecurity returns the wsse:Security header of hdr addressed to this endpoint (nil when
// there is none), or an InvalidSecurity fault when it is malformed. Headers for other actors
// or roles are left to them.
func readSecurity(v Version, hdr *etree.Element) (*Security, *Fault) {
	if hdr == nil {
		return nil, nil
	}
	var found *etree.Element
	for _, h := range hdr.ChildElements() {
		if !isSecurityHeader(h) || !targeted(v, h) {
			continue
		}
		if found != nil {
			return nil, SecurityFault(InvalidSecurity, "The message has more than one wsse:Security header for this endpoint.")
		}
		found = h
	}
	if found == nil {
		return nil, nil
	}
	s := &Security{}
	for _, e := range found.ChildElements() {
		switch {
		case e.Tag == "UsernameToken" && nsOf(e) == NSWSSE:
			if s.Username != nil {
				return nil, SecurityFault(InvalidSecurity, "The wsse:Security header has more than one UsernameToken.")
			}
			t, f := readUsernameToken(e)
			if f != nil {
				return nil, f
			}
			s.Username = t
		case e.Tag == "Timestamp" && nsOf(e) == NSWSU:
			if !s.Created.IsZero() || !s.Expires.IsZero() {
				return nil, SecurityFault(InvalidSecurity, "The wsse:Security header has more than one Timestamp.")
			}
			var f *Fault
			if s.Created, s.Expires, f = readTimestamp(e); f != nil {
				return nil, f
			}
		}
	}
	return s, nil
}

func readUsernameToken(e *etree.Element) (*UsernameToken, *Fault) {
	users, passwords := children(e, NSWSSE, "Username"), children(e, NSWSSE, "Password")
	if len(users) != 1 || len(passwords) > 1 {
		return nil, SecurityFault(InvalidSecurity, "A UsernameToken has exactly one Username and at most one Password.")
	}
	t := &UsernameToken{Username: strings.TrimSpace(users[0].Text()), Type: PasswordText}
	if len(passwords) == 1 {
		p := passwords[0]
		t.Password = p.Text()
		if typ, ok := attrValue(p, "", "Type"); ok {
			t.Type = strings.TrimSpace(typ)
		}
	}
	if t.Username == "" {
		return nil, SecurityFault(InvalidSecurity, "The UsernameToken's Username is empty.")
	}
	return t, nil
}

func readTimestamp(e *etree.Element) (created, expires time.Time, f *Fault) {
	read := func(local string) (time.Time, *Fault) {
		cs := children(e, NSWSU, local)
		switch len(cs) {
		case 0:
			return time.Time{}, nil
		case 1:
			t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(cs[0].Text()))
			if err != nil {
				return time.Time{}, SecurityFault(InvalidSecurity, fmt.Sprintf("The Timestamp's %s is not an xsd:dateTime with a time zone.", local))
			}
			return t, nil
		}
		return time.Time{}, SecurityFault(InvalidSecurity, fmt.Sprintf("The Timestamp has more than one %s.", local))
	}
	if created, f = read("Created"); f != nil {
		return
	}
	if expires, f = read("Expires"); f != nil {
		return
	}
	if !created.IsZero() && !expires.IsZero() && expires.Before(created) {
		return created, expires, SecurityFault(InvalidSecurity, "The Timestamp expires before it was created.")
	}
	if created.IsZero() && expires.IsZero() {
		return created, expires, SecurityFault(InvalidSecurity, "The Timestamp has neither Created nor Expires.")
	}
	return created, expires, nil
}

// CheckTimestamp checks the header's Timestamp, if it has one, against now with the allowed
// clock skew: a message created in the future is invalid, one past its expiry has expired.
func (s *Security) CheckTimestamp(now time.Time, skew time.Duration) *Fault {
	if !s.Created.IsZero() && s.Created.After(now.Add(skew)) {
		return SecurityFault(InvalidSecurity, "The security timestamp is invalid: it was created in the future.")
	}
	if !s.Expires.IsZero() && now.After(s.Expires.Add(skew)) {
		return SecurityFault(MessageExpired, "The message has expired: its security timestamp's Expires has passed.")
	}
	return nil
}

// SecurityHeader builds a wsse:Security header with t and, when ttl > 0, a Timestamp created
// at now and expiring ttl later: what a client adds to a request (Message.Header).
func SecurityHeader(v Version, t UsernameToken, now time.Time, ttl time.Duration) *etree.Element {
	sec := etree.NewElement("wsse:Security")
	sec.CreateAttr("xmlns:wsse", NSWSSE)
	sec.CreateAttr("xmlns:wsu", NSWSU)
	sec.CreateAttr("xmlns:s", v.Namespace())
	sec.CreateAttr("s:mustUnderstand", "1")
	if ttl > 0 {
		ts := sec.CreateElement("wsu:Timestamp")
		ts.CreateElement("wsu:Created").SetText(now.UTC().Format("2006-01-02T15:04:05.000Z"))
		ts.CreateElement("wsu:Expires").SetText(now.Add(ttl).UTC().Format("2006-01-02T15:04:05.000Z"))
	}
	ut := sec.CreateElement("wsse:UsernameToken")
	ut.CreateElement("wsse:Username").SetText(t.Username)
	p := ut.CreateElement("wsse:Password")
	typ := t.Type
	if typ == "" {
		typ = PasswordText
	}
	p.CreateAttr("Type", typ)
	p.SetText(t.Password)
	return sec
}

// StatusError is an answer at the HTTP level instead of a SOAP reply (e.g. 401 with a
// WWW-Authenticate challenge), for Endpoint.Authenticate to return.
type StatusError struct {
	Status int
	Header http.Header // added to the reply
	Text   string      // the plain-text body
}

func (e *StatusError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Status, e.Text) }

func writeStatus(w http.ResponseWriter, e *StatusError) {
	for k, vs := range e.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	http.Error(w, e.Text, e.Status)
}
