package interop

import (
	"fmt"
	"strings"
	"sync"

	"github.com/wimp-project/wimp/wsdl"
)

// Namespaces the clients report fault codes in.
const (
	nsWorkflowServices = "http://schemas.datacontract.org/2008/10/WorkflowServices"
	nsSOAP11Env        = "http://schemas.xmlsoap.org/soap/envelope/"
	nsSOAP12Env        = "http://www.w3.org/2003/05/soap-envelope"
	nsDispatcher       = "http://schemas.microsoft.com/net/2005/12/windowscommunicationfoundation/dispatcher"
)

// setupState is the state an instance is put in before the call under test.
type setupState int

const (
	stActive setupState = iota
	stSuspended
	stClosed     // Completed(Closed): a Hello instance, which completes at once
	stCanceled   // Completed(Canceled)
	stTerminated // Completed(Terminated)
	stUnknown    // an id no instance has
)

var allStates = []setupState{stActive, stSuspended, stClosed, stCanceled, stTerminated, stUnknown}

func (s setupState) String() string {
	return [...]string{"Active", "Suspended", "Closed", "Canceled", "Terminated", "Unknown"}[s]
}

// definition is the sample a set-up state's instance runs.
func (s setupState) definition() string {
	if s == stClosed {
		return "Hello"
	}
	return "ExpenseApproval"
}

// identities are the definition identities the cases use, read from the
// server (wimpctl get --json) rather than hard-coded.
type identities struct {
	expense   Identity // ExpenseApproval's, as its new instances have it
	hello     Identity // Hello's
	expenseV1 Identity // ExpenseApproval created with --version 1.0.0.0
}

// of returns the current identity of an instance set up in s.
func (ids identities) of(s setupState) Identity {
	if s == stClosed {
		return ids.hello
	}
	return ids.expense
}

const (
	setupSuspendReason   = "set up: suspended by the interop test"
	setupTerminateReason = "set up: terminated by the interop test"
	// Markup characters, non-ASCII (Latin-1, BMP and an astral character,
	// which is a surrogate pair in .NET strings) and quotes.
	nonASCIIReason = `R&D <urgent> "q" 'a' > Grüße ✓ 日本語 🚀`
)

// Call is one input line of a client driver.
type Call struct {
	Seq          int       `json:"seq"`
	Binding      string    `json:"binding"`
	Op           string    `json:"op"`
	ID           string    `json:"id"`
	Reason       *string   `json:"reason"`
	ReasonMode   string    `json:"reasonMode,omitempty"` // zeep: value, absent, nil
	Identity     *Identity `json:"identity"`
	IdentityMode string    `json:"identityMode,omitempty"` // zeep: value, absent, nil
	TextID       bool      `json:"textId,omitempty"`       // Mono: send the id as a string, verbatim
	IDNull       bool      `json:"idNull,omitempty"`       // send no id (Mono: xsi:nil; zeep: left out)
}

// want is the expected outcome of a call and the instance's state after it.
type want struct {
	// fault: "" = success; wantSender = a Sender fault without subcode;
	// otherwise the local name of the subcode, in faultNS.
	fault string
	// faultNS is the subcode's namespace; "" means the WorkflowServices namespace.
	faultNS string
	// state/completion after the call ("" for unknown ids: the id must stay unknown).
	state, completion string
	// suspensionReason after the call, checked when state is Suspended.
	reason string
	// definition: the instance's definition identity after the call, if checked.
	definition *Identity
	// eventually: the state may be reached shortly after the reply (Cancel
	// runs cancellation handlers); otherwise it must hold when the reply arrives.
	eventually bool
}

const wantSender = "Sender"

// testCase is one client call with its set-up and expectation.
type testCase struct {
	name  string
	setup setupState
	// idForm rewrites the instance id as sent (upper case, braces, …); nil
	// sends it as is.
	idForm func(id string) string
	call   Call
	want   want
	id     string // the instance's id (lower case), filled by set-up
	// version: create the instance with wimpctl create --version (default:
	// the server's choice for the definition name).
	version string
}

func strp(s string) *string { return &s }

func opNames() []string {
	var names []string
	for _, op := range wsdl.Operations() {
		names = append(names, op.Name)
	}
	return names
}

// base strips the Transacted prefix: TransactedSuspend behaves as Suspend.
func base(op string) string { return strings.TrimPrefix(op, "Transacted") }

func takesReason(op string) bool {
	switch base(op) {
	case "Suspend", "Terminate", "Abandon":
		return true
	}
	return false
}

func isUpdate(op string) bool { return base(op) == "Update" }

// stateOf is the (state, completion, suspensionReason) of a set-up instance.
func stateOf(s setupState) want {
	switch s {
	case stActive:
		return want{state: "Active"}
	case stSuspended:
		return want{state: "Suspended", reason: setupSuspendReason}
	case stClosed:
		return want{state: "Completed", completion: "Closed"}
	case stCanceled:
		return want{state: "Completed", completion: "Canceled"}
	case stTerminated:
		return want{state: "Completed", completion: "Terminated"}
	}
	return want{}
}

// expect is DESIGN §3's state table for a well-formed call (valid id, a
// non-empty reason where one is required, the instance's current identity
// for Update).
func expect(op string, s setupState, reason string) want {
	unchanged := stateOf(s)
	switch s {
	case stUnknown:
		return want{fault: "InstanceNotFound"}
	case stClosed, stCanceled:
		unchanged.fault = "InstanceCompleted"
		return unchanged
	case stTerminated:
		unchanged.fault = "InstanceTerminated"
		return unchanged
	}
	suspended := s == stSuspended
	switch base(op) {
	case "Run":
		if suspended {
			unchanged.fault = "InstanceSuspended"
		}
		return unchanged
	case "Suspend":
		return want{state: "Suspended", reason: reason}
	case "Unsuspend":
		return want{state: "Active"}
	case "Cancel":
		return want{state: "Completed", completion: "Canceled", eventually: true}
	case "Terminate":
		return want{state: "Completed", completion: "Terminated"}
	case "Abandon", "Update":
		// Abandon: back to the last persisted point, which is the current
		// state (wimp persists on idle and on every management operation).
		// Update to the current identity: like Run, but does not run a
		// suspended instance.
		return unchanged
	}
	panic("unknown operation " + op)
}

// buildCases returns every call one client binding makes: each operation in
// each state, plus reason, id and identity variants.
func buildCases(client, binding string, ids identities) []*testCase {
	ident := ids.expense
	var cs []*testCase
	add := func(name string, setup setupState, c Call, w want) *testCase {
		c.Binding = binding
		tc := &testCase{name: fmt.Sprintf("%s/%s/%s/%s", client, binding, c.Op, name), setup: setup, call: c, want: w}
		cs = append(cs, tc)
		return tc
	}
	for _, op := range opNames() {
		for _, s := range allStates {
			c := Call{Op: op}
			reason := ""
			if takesReason(op) {
				reason = fmt.Sprintf("interop %s via %s/%s", op, client, binding)
				c.Reason = strp(reason)
			}
			if isUpdate(op) {
				id := ids.of(s)
				c.Identity = &id
			}
			add(s.String(), s, c, expect(op, s, reason))
		}
	}

	// Suspend's reason is required: null, empty or blank is a Sender fault
	// without subcode, checked before the instance is looked up.
	nullModes := []string{"nil"}
	if client == "zeep" {
		nullModes = append(nullModes, "absent") // zeep can also leave it out
	}
	for _, op := range []string{"Suspend", "TransactedSuspend"} {
		for _, s := range []setupState{stActive, stSuspended, stTerminated, stUnknown} {
			unchanged := stateOf(s)
			unchanged.fault = wantSender
			for _, mode := range nullModes {
				c := Call{Op: op}
				if client == "zeep" {
					c.ReasonMode = mode
				}
				add("reason-"+mode+"/"+s.String(), s, c, unchanged)
			}
			add("reason-empty/"+s.String(), s, Call{Op: op, Reason: strp("")}, unchanged)
		}
		add("reason-blank/Active", stActive, Call{Op: op, Reason: strp("  \t ")}, want{fault: wantSender, state: "Active"})
		add("reason-nonascii/Active", stActive, Call{Op: op, Reason: strp(nonASCIIReason)},
			want{state: "Suspended", reason: nonASCIIReason})
		add("reason-nonascii/Suspended", stSuspended, Call{Op: op, Reason: strp(nonASCIIReason)},
			want{state: "Suspended", reason: nonASCIIReason})
	}
	// Terminate and Abandon take an optional reason.
	for _, op := range []string{"Terminate", "TransactedTerminate"} {
		terminated := want{state: "Completed", completion: "Terminated"}
		add("reason-nil/Active", stActive, Call{Op: op}, terminated)
		add("reason-empty/Suspended", stSuspended, Call{Op: op, Reason: strp("")}, terminated)
		add("reason-nonascii/Active", stActive, Call{Op: op, Reason: strp(nonASCIIReason)}, terminated)
	}
	add("reason-nil/Active", stActive, Call{Op: "Abandon"}, want{state: "Active"})
	add("reason-nonascii/Suspended", stSuspended, Call{Op: "Abandon", Reason: strp(nonASCIIReason)},
		want{state: "Suspended", reason: setupSuspendReason})

	// Upper-case ids. Mono's Guid-typed contract always writes lower case,
	// so Mono sends these through its string-typed contract.
	upper := func(name string, s setupState, c Call, w want) {
		c.TextID = client == "mono"
		add("uppercase-id/"+name, s, c, w).idForm = strings.ToUpper
	}
	upper("Active", stActive, Call{Op: "Suspend", Reason: strp("upper-case id")}, want{state: "Suspended", reason: "upper-case id"})
	upper("Suspended", stSuspended, Call{Op: "TransactedUnsuspend"}, want{state: "Active"})
	upper("Suspended", stSuspended, Call{Op: "Cancel"}, want{state: "Completed", completion: "Canceled", eventually: true})
	upper("Active", stActive, Call{Op: "TransactedTerminate", Reason: strp("upper-case id")}, want{state: "Completed", completion: "Terminated"})
	upper("Terminated", stTerminated, Call{Op: "Run"}, want{fault: "InstanceTerminated", state: "Completed", completion: "Terminated"})
	upper("Unknown", stUnknown, Call{Op: "Run"}, want{fault: "InstanceNotFound"})
	cur := ident
	upper("Active", stActive, Call{Op: "Update", Identity: &cur}, want{state: "Active"})

	// Other GUID forms .NET's Guid.Parse accepts, and ids that are not GUIDs
	// (DESIGN §3: DeserializationFailed in WCF's dispatcher namespace; the
	// all-zero GUID is never an instance).
	forms := []struct {
		name string
		f    func(string) string
	}{
		{"braces", func(id string) string { return "{" + id + "}" }},
		{"parentheses", func(id string) string { return "(" + strings.ToUpper(id) + ")" }},
		{"32-digits", func(id string) string { return strings.ReplaceAll(id, "-", "") }},
		{"surrounding-space", func(id string) string { return "  " + id + "\n" }},
	}
	for _, form := range forms {
		c := Call{Op: "Suspend", Reason: strp("id form " + form.name), TextID: client == "mono"}
		add("id-"+form.name+"/Active", stActive, c, want{state: "Suspended", reason: "id form " + form.name}).idForm = form.f
	}
	bad := []struct {
		name, id string
		w        want
	}{
		{"not-a-guid", "not-a-guid", want{fault: "DeserializationFailed", faultNS: nsDispatcher}},
		{"empty", "", want{fault: "DeserializationFailed", faultNS: nsDispatcher}},
		{"too-short", "3f2504e0-4f89-41d3-9a0c-0305e82c330", want{fault: "DeserializationFailed", faultNS: nsDispatcher}},
		{"all-zero", "00000000-0000-0000-0000-000000000000", want{fault: "InstanceNotFound"}},
	}
	// No instanceId at all (Mono: xsi:nil through the string contract; zeep: left out).
	for _, op := range []string{"Run", "TransactedSuspend"} {
		c := Call{Op: op, TextID: client == "mono", IDNull: true}
		if takesReason(op) {
			c.Reason = strp("no id")
		}
		add("id-missing", stUnknown, c, want{fault: "DeserializationFailed", faultNS: nsDispatcher})
	}
	for _, b := range bad {
		for _, op := range []string{"Run", "Suspend", "TransactedUpdate"} {
			c := Call{Op: op, TextID: client == "mono"}
			if takesReason(op) {
				c.Reason = strp("bad id")
			}
			if isUpdate(op) {
				cur := ident
				c.Identity = &cur
			}
			id := b.id
			add("id-"+b.name, stUnknown, c, b.w).idForm = func(string) string { return id }
		}
	}

	// Update from ExpenseApproval 1.0.0.0 to a registered definition that
	// declares it can update from it (the samples' 2.0.0.0): identity
	// switched. To one that declares it but is incompatible (1.5.0.0, the
	// redesign: its Receive has a new activity Id): UpdateFailed, identity
	// unchanged. The target versions are the samples' scenario; the current
	// identity is read from the server.
	v1 := ids.expenseV1
	v2 := Identity{Name: v1.Name, Package: v1.Package, Version: "2.0.0.0"}
	redesign := Identity{Name: v1.Name, Package: v1.Package, Version: "1.5.0.0"}
	for _, op := range []string{"Update", "TransactedUpdate"} {
		for _, s := range []setupState{stActive, stSuspended} {
			to := v2
			w := stateOf(s)
			w.definition = &to
			add("from-v1-to-updatable-v2/"+s.String(), s, Call{Op: op, Identity: &to}, w).version = v1.Version
			cur := v1
			same := stateOf(s)
			same.definition = &v1
			add("v1-to-current-v1/"+s.String(), s, Call{Op: op, Identity: &cur}, same).version = v1.Version
			r := redesign
			failed := stateOf(s)
			failed.fault = "UpdateFailed"
			failed.definition = &v1
			add("from-v1-to-incompatible-redesign/"+s.String(), s, Call{Op: op, Identity: &r}, failed).version = v1.Version
		}
	}

	// Update: a nil or absent identity never matches; neither does another one.
	idModes := []string{"nil"}
	if client == "zeep" {
		idModes = append(idModes, "absent")
	}
	other := Identity{Name: ident.Name, Package: ident.Package, Version: "99.9.9.9"}
	nameOnly := Identity{Name: ident.Name}
	for _, op := range []string{"Update", "TransactedUpdate"} {
		for _, s := range []setupState{stActive, stSuspended} {
			failed := stateOf(s)
			failed.fault = "UpdateFailed"
			failed.definition = &ident
			for _, mode := range idModes {
				c := Call{Op: op}
				if client == "zeep" {
					c.IdentityMode = mode
				}
				add("identity-"+mode+"/"+s.String(), s, c, failed)
			}
			o, n := other, nameOnly
			add("identity-other-version/"+s.String(), s, Call{Op: op, Identity: &o}, failed)
			add("identity-name-only/"+s.String(), s, Call{Op: op, Identity: &n}, failed)
		}
	}
	return cs
}

// parallel runs f(i) for i in [0,n) on up to 8 goroutines.
func parallel(n int, f func(i int)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			f(i)
		}()
	}
	wg.Wait()
}
