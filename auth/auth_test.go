package auth

import (
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/wimp-project/wimp/host"
)

func hash(t *testing.T, password string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// The users file: name:HASH:roles, # comments and blank lines, roles from reader, operator and
// admin (the highest counts), "-" for certificate-only users, and the three bcrypt prefixes.
func TestParseUsers(t *testing.T) {
	h := hash(t, "pw")
	text := "# wimp users\n\n" +
		"rita:" + h + ":reader\n" +
		"  otto : " + h + " : operator  \n" +
		"ada:" + h + ":reader,admin\n" +
		"bea:$2b$" + h[4:] + ":operator,reader\n" +
		"yan:$2y$" + h[4:] + ":reader\n" +
		"carol:-:admin\n"
	u, err := ParseUsers(strings.NewReader(text), "users")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]host.Role{"rita": host.Reader, "otto": host.Operator, "ada": host.Admin,
		"bea": host.Operator, "yan": host.Reader, "carol": host.Admin} {
		got, ok := u.Lookup(name)
		if !ok || got.Role != want {
			t.Errorf("%s: %+v (found %v), want role %v", name, got, ok, want)
		}
	}
	if c, _ := u.Lookup("carol"); !c.CertificateOnly() {
		t.Errorf("carol (-) is not certificate-only")
	}
	if u.Len() != 6 {
		t.Errorf("%d users, want 6", u.Len())
	}
}

func TestParseUsersErrors(t *testing.T) {
	h := hash(t, "pw")
	for _, c := range []struct{ text, want string }{
		{"ada:" + h + "\n", "users:1: want name:HASH:roles (three fields separated by ':'), found 2 field(s)"},
		{"# c\n:" + h + ":admin\n", "users:2: the user name is empty"},
		{"a da:" + h + ":admin\n", `users:1: the user name "a da" contains white space or a control character`},
		{"ada:secret:admin\n", `users:1: user "ada": the password hash must be a bcrypt hash ($2a$, $2b$ or $2y$; see wimpctl hash-password) or '-' for a certificate-only user`},
		{"ada:$2a$10$short:admin\n", `users:1: user "ada": the password hash is not a valid bcrypt hash`},
		{"ada:" + h + ":root\n", `users:1: user "ada": unknown role "root" (want reader, operator or admin)`},
		{"ada:" + h + ":\n", `users:1: user "ada": unknown role "" (want reader, operator or admin)`},
		{"ada:-:admin\nada:-:reader\n", `users:2: user "ada" is listed twice`},
	} {
		_, err := ParseUsers(strings.NewReader(c.text), "users")
		if err == nil || err.Error() != c.want {
			t.Errorf("%q: %v, want %q", c.text, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), h) {
			t.Errorf("%q: the error quotes the hash", c.text)
		}
	}
}

// Passwords: the right one authenticates; a wrong one, an unknown user and a certificate-only
// user all get the same error; a replaced users file takes effect at once, remembered checks
// included.
func TestVerifier(t *testing.T) {
	text := "ada:" + hash(t, "right") + ":admin\ncarol:-:admin\n"
	u, err := ParseUsers(strings.NewReader(text), "users")
	if err != nil {
		t.Fatal(err)
	}
	v := NewVerifier(u)
	for i := 0; i < 2; i++ { // the second time from the remembered check
		if got, err := v.Password("ada", "right"); err != nil || got.Name != "ada" {
			t.Fatalf("ada/right (%d): %v %v", i, got, err)
		}
	}
	for _, c := range [][2]string{{"ada", "wrong"}, {"ada", ""}, {"mallory", "right"}, {"carol", ""}, {"carol", "x"}} {
		if _, err := v.Password(c[0], c[1]); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("%s/%s: %v, want ErrBadCredentials", c[0], c[1], err)
		}
	}
	u2, err := ParseUsers(strings.NewReader("ada:"+hash(t, "new")+":reader\n"), "users")
	if err != nil {
		t.Fatal(err)
	}
	v.SetUsers(u2)
	if _, err := v.Password("ada", "right"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("the old password after the reload: %v", err)
	}
	if got, err := v.Password("ada", "new"); err != nil || got.Role != host.Reader {
		t.Errorf("the new password after the reload: %v %v", got, err)
	}
	if _, err := NewVerifier(nil).Password("ada", "right"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("without users: %v", err)
	}
}

// Ten failures in a row use an address's allowance; it earns one attempt back every six
// seconds; other addresses are not affected.
func TestLimiter(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	l := NewLimiter()
	l.now = func() time.Time { return now }
	for i := 0; i < 10; i++ {
		if ok, _ := l.Allow("192.0.2.1"); !ok {
			t.Fatalf("attempt %d refused", i+1)
		}
		l.Fail("192.0.2.1")
	}
	ok, retry := l.Allow("192.0.2.1")
	if ok || retry != 6*time.Second {
		t.Fatalf("after 10 failures: allowed %v, retry %v; want refused, retry 6s", ok, retry)
	}
	if ok, _ := l.Allow("192.0.2.2"); !ok {
		t.Errorf("another address was refused")
	}
	now = now.Add(6 * time.Second)
	if ok, _ := l.Allow("192.0.2.1"); !ok {
		t.Errorf("refused 6 s later")
	}
	l.Fail("192.0.2.1")
	if ok, _ := l.Allow("192.0.2.1"); ok {
		t.Errorf("allowed right after the earned attempt failed")
	}
}

// The limiter's table stays bounded whatever number of addresses fail.
func TestLimiterBounded(t *testing.T) {
	l := NewLimiter()
	for i := 0; i < limitedAddresses+500; i++ {
		l.Fail("addr-" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + time.Duration(i).String())
	}
	if n := len(l.m); n > limitedAddresses {
		t.Errorf("%d addresses tracked, want at most %d", n, limitedAddresses)
	}
}
