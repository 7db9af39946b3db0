package host

import (
	"context"
	"fmt"
)

// Role is what a principal may do (README, Security). Each role includes the ones below it.
type Role int

const (
	NoRole   Role = iota // may call nothing that needs a role
	Reader               // read instances, tracking records, definitions, metrics
	Operator             // Reader's, plus create instances, resume bookmarks, Run, Suspend, Unsuspend
	Admin                // everything: plus Cancel, Terminate, Abandon, Update, bulk operations, purge
)

var roleNames = [...]string{"none", "reader", "operator", "admin"}

func (r Role) String() string {
	if r >= 0 && int(r) < len(roleNames) {
		return roleNames[r]
	}
	return fmt.Sprintf("Role(%d)", int(r))
}

// ParseRole reads a role's name: reader, operator or admin.
func ParseRole(s string) (Role, error) {
	for r := Reader; r <= Admin; r++ {
		if s == roleNames[r] {
			return r, nil
		}
	}
	return NoRole, fmt.Errorf("unknown role %q (want reader, operator or admin)", s)
}

// ErrAccessDenied: the caller's role does not allow the operation. Nothing was done.
var ErrAccessDenied = accessDenied{}

type accessDenied struct{}

func (accessDenied) Error() string { return "access is denied" }

// Authorize returns nil when the principal ctx carries may call op, which needs role need;
// otherwise an *Error of kind ErrAccessDenied, logged with who asked. The contracts call it
// before they decode a request (WCF authorizes before it deserializes), and the host's entry
// points call it again, so that no transport can skip it.
func (h *Host) Authorize(ctx context.Context, op string, need Role) error {
	p := PrincipalFrom(ctx)
	if need <= NoRole || need > Admin {
		return fmt.Errorf("host: operation %s needs no valid role (%v)", op, need)
	}
	if p.Role >= need {
		return nil
	}
	h.log.Warn("access denied", "operation", op, "principal", p.String(), "role", p.Role.String(), "needs", need.String())
	return &Error{Kind: ErrAccessDenied, Operation: op, Detail: fmt.Sprintf("%s needs the %s role", op, need)}
}
