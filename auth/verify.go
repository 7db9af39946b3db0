package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// ErrBadCredentials: the name and password do not authenticate (an unknown user, a wrong
// password, or a certificate-only user). Which of them is never said.
var ErrBadCredentials = errors.New("the user name or password is not valid")

// dummyHash is compared against when the user is unknown, so that an unknown name costs as
// much time as a wrong password (cost 12, the cost wimpctl hash-password uses).
var dummyHash = []byte("$2a$12$CL0avzKTw5Oi3hxpln1u3Oa2VJhZHcTbyLzg4mJao7xEaKV3U4ij.")

// Verifier checks passwords against the current users. A bcrypt comparison costs tens of
// milliseconds by design, and WCF's Basic and UsernameToken clients send their password with
// every request, so a successful check is remembered for a minute (keyed by an HMAC of name and
// password under a key made at start, never the password itself); a new users file forgets
// every remembered check.
type Verifier struct {
	users atomic.Pointer[Users]

	key   [32]byte
	mu    sync.Mutex
	known map[[32]byte]knownGood
	now   func() time.Time
}

type knownGood struct {
	user  *User
	until time.Time
}

const (
	rememberFor   = time.Minute
	rememberedMax = 4096
)

// NewVerifier returns a verifier of u (nil: no users; every password fails).
func NewVerifier(u *Users) *Verifier {
	v := &Verifier{known: map[[32]byte]knownGood{}, now: time.Now}
	if _, err := rand.Read(v.key[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	v.users.Store(u)
	return v
}

// SetUsers replaces the users (a reloaded file) and forgets remembered checks.
func (v *Verifier) SetUsers(u *Users) {
	v.users.Store(u)
	v.mu.Lock()
	clear(v.known)
	v.mu.Unlock()
}

// Users returns the current users (nil when none are configured).
func (v *Verifier) Users() *Users { return v.users.Load() }

// Password returns the user that name and password authenticate, or ErrBadCredentials.
func (v *Verifier) Password(name, password string) (*User, error) {
	users := v.users.Load()
	mac := hmac.New(sha256.New, v.key[:])
	mac.Write([]byte(name))
	mac.Write([]byte{0})
	mac.Write([]byte(password))
	var k [32]byte
	mac.Sum(k[:0])
	now := v.now()
	v.mu.Lock()
	g, ok := v.known[k]
	v.mu.Unlock()
	if ok && now.Before(g.until) {
		if cur, found := users.Lookup(name); found && cur == g.user {
			return g.user, nil
		}
	}
	u, found := users.Lookup(name)
	hash := dummyHash
	if found && !u.CertificateOnly() {
		hash = u.hash
	}
	err := bcrypt.CompareHashAndPassword(hash, []byte(password))
	if !found || u.CertificateOnly() || err != nil {
		return nil, ErrBadCredentials
	}
	v.mu.Lock()
	if len(v.known) >= rememberedMax {
		for key, x := range v.known { // drop the expired, or else any one: the map stays bounded
			if !now.Before(x.until) || len(v.known) >= rememberedMax {
				delete(v.known, key)
			}
		}
	}
	v.known[k] = knownGood{u, now.Add(rememberFor)}
	v.mu.Unlock()
	return u, nil
}
