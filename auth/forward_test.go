package auth_test

import (
	"errors"
	"testing"
	"time"

	"github.com/wimp-project/wimp/auth"
	"github.com/wimp-project/wimp/host"
)

// The vector below was computed outside Go (Python's hmac and hashlib): key = bytes 0..31,
// the assertion the JSON of carol (operator, 10.0.0.7:51234) from n1-1 to n2-1 at
// 2026-12-01T00:00:00Z, base64url without padding, on POST /WorkflowControl with the body
// "<s:Envelope/>"; the MAC is HMAC-SHA256 over "wimp-principal-v1", the assertion, the method and
// the URI, each followed by a NUL, then the body's SHA-256.
var (
	vectorKey = func() []byte {
		k := make([]byte, 32)
		for i := range k {
			k[i] = byte(i)
		}
		return k
	}()
	vectorTime      = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	vectorBody      = []byte("<s:Envelope/>")
	vectorPrincipal = host.Principal{Name: "carol", Address: "10.0.0.7:51234", Role: host.Operator}
)

const (
	vectorAssertion = "eyJuYW1lIjoiY2Fyb2wiLCJhZGRyZXNzIjoiMTAuMC4wLjc6NTEyMzQiLCJyb2xlIjoib3BlcmF0b3IiLCJmcm9tIjoibjEtMSIsInRvIjoibjItMSIsInRpbWUiOjE3OTYwODMyMDAwMDB9"
	vectorSignature = "AogEhzUxkrijVDyFd2CAwOmD2X0UBJCurxbkibfZYoE"
)

func TestAssertPrincipalVector(t *testing.T) {
	a, sig := auth.AssertPrincipal(vectorKey, vectorPrincipal, "n1-1", "n2-1", vectorTime, "POST", "/WorkflowControl", vectorBody)
	if a != vectorAssertion {
		t.Errorf("assertion = %s\nwant       %s", a, vectorAssertion)
	}
	if sig != vectorSignature {
		t.Errorf("signature = %s, want %s", sig, vectorSignature)
	}
	p, from, err := auth.VerifyPrincipal(vectorKey, vectorAssertion, vectorSignature, "n2-1", vectorTime.Add(2*time.Second), "POST", "/WorkflowControl", vectorBody)
	if err != nil || p != vectorPrincipal || from != "n1-1" {
		t.Fatalf("VerifyPrincipal = %+v, %q, %v; want %+v from n1-1", p, from, err, vectorPrincipal)
	}
}

// Anything changed on the way — the request, the assertion, the key, the receiver, the time —
// and the principal is refused.
func TestVerifyPrincipalRefuses(t *testing.T) {
	otherKey := append([]byte(nil), vectorKey...)
	otherKey[0] ^= 1
	// An assertion of role "none", correctly signed: a node never asserts a caller without a role.
	noRole, noRoleSig := auth.AssertPrincipal(vectorKey, host.Principal{Name: "x", Role: host.NoRole}, "n1-1", "n2-1", vectorTime, "POST", "/", nil)
	cases := []struct {
		name                 string
		key                  []byte
		assertion, sig, self string
		at                   time.Time
		method, uri          string
		body                 []byte
		otherNode            bool
	}{
		{"other key", otherKey, vectorAssertion, vectorSignature, "n2-1", vectorTime, "POST", "/WorkflowControl", vectorBody, false},
		{"other method", vectorKey, vectorAssertion, vectorSignature, "n2-1", vectorTime, "PUT", "/WorkflowControl", vectorBody, false},
		{"other URI", vectorKey, vectorAssertion, vectorSignature, "n2-1", vectorTime, "POST", "/WorkflowHosting", vectorBody, false},
		{"other body", vectorKey, vectorAssertion, vectorSignature, "n2-1", vectorTime, "POST", "/WorkflowControl", []byte("<s:Envelope />"), false},
		{"no body", vectorKey, vectorAssertion, vectorSignature, "n2-1", vectorTime, "POST", "/WorkflowControl", nil, false},
		{"assertion changed", vectorKey, vectorAssertion[:len(vectorAssertion)-2] + "xx", vectorSignature, "n2-1", vectorTime, "POST", "/WorkflowControl", vectorBody, false},
		{"signature changed", vectorKey, vectorAssertion, "B" + vectorSignature[1:], "n2-1", vectorTime, "POST", "/WorkflowControl", vectorBody, false},
		{"signature not base64url", vectorKey, vectorAssertion, vectorSignature + "==", "n2-1", vectorTime, "POST", "/WorkflowControl", vectorBody, false},
		// The same 32 bytes, spelled with nonzero unused bits in the last character (found by
		// FuzzVerifyPrincipal): refused, so a header has one accepted spelling.
		{"signature spelled otherwise", vectorKey, vectorAssertion, vectorSignature[:len(vectorSignature)-1] + "G", "n2-1", vectorTime, "POST", "/WorkflowControl", vectorBody, false},
		{"no signature", vectorKey, vectorAssertion, "", "n2-1", vectorTime, "POST", "/WorkflowControl", vectorBody, false},
		{"31 s old", vectorKey, vectorAssertion, vectorSignature, "n2-1", vectorTime.Add(31 * time.Second), "POST", "/WorkflowControl", vectorBody, false},
		{"31 s ahead", vectorKey, vectorAssertion, vectorSignature, "n2-1", vectorTime.Add(-31 * time.Second), "POST", "/WorkflowControl", vectorBody, false},
		{"role none", vectorKey, noRole, noRoleSig, "n2-1", vectorTime, "POST", "/", nil, false},
		{"for another node", vectorKey, vectorAssertion, vectorSignature, "n2-2", vectorTime, "POST", "/WorkflowControl", vectorBody, true},
	}
	for _, c := range cases {
		_, _, err := auth.VerifyPrincipal(c.key, c.assertion, c.sig, c.self, c.at, c.method, c.uri, c.body)
		if !errors.Is(err, auth.ErrAssertion) {
			t.Errorf("%s: err = %v, want ErrAssertion", c.name, err)
		}
		if errors.Is(err, auth.ErrOtherNode) != c.otherNode {
			t.Errorf("%s: err = %v; ErrOtherNode %v, want %v", c.name, err, errors.Is(err, auth.ErrOtherNode), c.otherNode)
		}
	}
	// 30 s either way is still accepted (MaxAssertionAge).
	for _, d := range []time.Duration{30 * time.Second, -30 * time.Second} {
		if _, _, err := auth.VerifyPrincipal(vectorKey, vectorAssertion, vectorSignature, "n2-1", vectorTime.Add(d), "POST", "/WorkflowControl", vectorBody); err != nil {
			t.Errorf("%v from the assertion's time: %v", d, err)
		}
	}
}

// Whatever the headers hold, VerifyPrincipal answers without panicking, and accepts only what
// the key signed.
func FuzzVerifyPrincipal(f *testing.F) {
	f.Add(vectorAssertion, vectorSignature, "POST", "/WorkflowControl", vectorBody)
	f.Add("e30", vectorSignature, "POST", "/", []byte{})
	f.Add("", "", "", "", []byte(nil))
	f.Fuzz(func(t *testing.T, assertion, sig, method, uri string, body []byte) {
		p, _, err := auth.VerifyPrincipal(vectorKey, assertion, sig, "n2-1", vectorTime, method, uri, body)
		if err != nil {
			return
		}
		a, s := auth.AssertPrincipal(vectorKey, p, "n1-1", "n2-1", vectorTime, method, uri, body)
		if assertion == vectorAssertion && (a != assertion || s != sig) {
			t.Fatalf("accepted the vector's assertion with another signature %q", sig)
		}
		if p.Role < host.Reader || p.Name == "" {
			t.Fatalf("accepted a principal without a name or role: %+v", p)
		}
	})
}
