package auth

import (
	"sync"
	"time"
)

// Failed authentications are limited per remote address (README, Security): each address may
// fail FailureBurst times in a row, and earns one more attempt every FailureRefill; while it has
// none left its attempts are refused (HTTP 429 with Retry-After) without checking the password.
const (
	FailureBurst  = 10
	FailureRefill = 6 * time.Second
	// limitedAddresses bounds the table; beyond it the addresses with a full allowance are
	// dropped first.
	limitedAddresses = 10000
)

// Limiter counts failed attempts per address (a token bucket per address).
type Limiter struct {
	mu  sync.Mutex
	m   map[string]*bucket
	now func() time.Time
}

type bucket struct {
	tokens float64
	at     time.Time
}

// NewLimiter returns an empty limiter.
func NewLimiter() *Limiter { return &Limiter{m: map[string]*bucket{}, now: time.Now} }

func (l *Limiter) refill(b *bucket, now time.Time) {
	b.tokens = min(FailureBurst, b.tokens+float64(now.Sub(b.at))/float64(FailureRefill))
	b.at = now
}

// Allow reports whether addr may attempt to authenticate now; when not, retry is how long until
// it may.
func (l *Limiter) Allow(addr string) (ok bool, retry time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.m[addr]
	if b == nil {
		return true, 0
	}
	now := l.now()
	l.refill(b, now)
	if b.tokens >= 1 {
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) * float64(FailureRefill))
}

// Fail records a failed attempt by addr.
func (l *Limiter) Fail(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b := l.m[addr]
	if b == nil {
		if len(l.m) >= limitedAddresses {
			l.prune(now)
		}
		b = &bucket{tokens: FailureBurst, at: now}
		l.m[addr] = b
	}
	l.refill(b, now)
	b.tokens = max(0, b.tokens-1)
}

// prune drops addresses whose allowance is full again, and if none is, any one.
func (l *Limiter) prune(now time.Time) {
	for k, b := range l.m {
		if l.refill(b, now); b.tokens >= FailureBurst {
			delete(l.m, k)
		}
	}
	for k := range l.m {
		if len(l.m) < limitedAddresses {
			break
		}
		delete(l.m, k)
	}
}
