// Package auth verifies who calls wimp: the users file (bcrypt hashes and roles), HTTP Basic
// and WS-Security UsernameToken credentials, client certificates, and the TLS configuration
// that carries them, reloaded on SIGHUP. It turns a verified caller into a host.Principal; the
// host decides what each role may do (host.Authorize).
package auth

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode"

	"golang.org/x/crypto/bcrypt"

	"github.com/wimp-project/wimp/host"
)

// User is one entry of the users file.
type User struct {
	Name string
	Role host.Role // the highest of the roles the entry lists
	hash []byte    // bcrypt; nil for a certificate-only user ("-")
}

// CertificateOnly reports whether the user can authenticate only with a client certificate.
func (u *User) CertificateOnly() bool { return u.hash == nil }

// Users is a parsed users file.
type Users struct {
	byName map[string]*User
}

// Lookup returns the user named name.
func (u *Users) Lookup(name string) (*User, bool) {
	if u == nil {
		return nil, false
	}
	x, ok := u.byName[name]
	return x, ok
}

// Len is the number of users.
func (u *Users) Len() int { return len(u.byName) }

// LoadUsers reads the users file at path (ParseUsers).
func LoadUsers(path string) (*Users, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseUsers(f, path)
}

// ParseUsers reads a users file: one user per line, `name:HASH:roles`, where HASH is a bcrypt
// hash ($2a$, $2b$ or $2y$) or `-` for a user who authenticates only with a client certificate
// whose subject CN is the name, and roles is a comma-separated list of reader, operator and
// admin. Blank lines and lines starting with `#` are ignored. Errors name source and line and
// never quote a hash.
func ParseUsers(r io.Reader, source string) (*Users, error) {
	u := &Users{byName: map[string]*User{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 64<<10)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, err := parseUserLine(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", source, n, err)
		}
		if _, dup := u.byName[user.Name]; dup {
			return nil, fmt.Errorf("%s:%d: user %q is listed twice", source, n, user.Name)
		}
		u.byName[user.Name] = user
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %v", source, err)
	}
	return u, nil
}

func parseUserLine(line string) (*User, error) {
	// A bcrypt hash contains no ':' ($2b$12$ + 53 characters of [./A-Za-z0-9]).
	parts := strings.Split(line, ":")
	if len(parts) != 3 {
		return nil, fmt.Errorf("want name:HASH:roles (three fields separated by ':'), found %d field(s)", len(parts))
	}
	name, hash, roles := strings.TrimSpace(parts[0]), strings.TrimSpace(parts[1]), strings.TrimSpace(parts[2])
	if name == "" {
		return nil, fmt.Errorf("the user name is empty")
	}
	if i := strings.IndexFunc(name, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }); i >= 0 {
		return nil, fmt.Errorf("the user name %q contains white space or a control character", name)
	}
	user := &User{Name: name}
	if hash != "-" {
		if !(strings.HasPrefix(hash, "$2a$") || strings.HasPrefix(hash, "$2b$") || strings.HasPrefix(hash, "$2y$")) {
			return nil, fmt.Errorf("user %q: the password hash must be a bcrypt hash ($2a$, $2b$ or $2y$; see wimpctl hash-password) or '-' for a certificate-only user", name)
		}
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return nil, fmt.Errorf("user %q: the password hash is not a valid bcrypt hash", name)
		}
		user.hash = []byte(hash)
	}
	for _, r := range strings.Split(roles, ",") {
		role, err := host.ParseRole(strings.TrimSpace(r))
		if err != nil {
			return nil, fmt.Errorf("user %q: %v", name, err)
		}
		user.Role = max(user.Role, role)
	}
	return user, nil
}
