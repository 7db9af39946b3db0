package host

import "context"

// Principal is who asks for an operation, as the transport verified it. The tracking trail
// records it with every management operation and bookmark resumption.
type Principal struct {
	Name    string // the verified user; "anonymous" when nobody was authenticated
	Address string // the peer's network address, when there is one
	Role    Role   // what the principal may do (Authorize)
}

// Anonymous is the principal of a request nobody authenticated.
const Anonymous = "anonymous"

func (p Principal) String() string {
	name := p.Name
	if name == "" {
		name = Anonymous
	}
	if p.Address == "" {
		return name
	}
	return name + "@" + p.Address
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p. Only the layer that verified p (the server) sets it.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal ctx carries. A context without one is a call from code
// that embeds the host, which is trusted: the anonymous admin. (The server sets a principal on
// every request it serves.)
func PrincipalFrom(ctx context.Context) Principal {
	if p, ok := ctx.Value(principalKey{}).(Principal); ok {
		return p
	}
	return Principal{Name: Anonymous, Role: Admin}
}

type requestIDKey struct{}

// WithRequestID returns ctx carrying the id of the request that asked (X-Request-Id): the
// tracking record of a management operation names it.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestIDFrom returns the request id ctx carries, or "".
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}
