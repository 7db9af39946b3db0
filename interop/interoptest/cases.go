package interoptest

import (
	"fmt"
	"strings"
)

// Client is what a third-party client can put on the wire, which decides the
// calls it makes.
type Client struct {
	Name     string
	Bindings []string
	// SOAP12 are the bindings that speak SOAP 1.2.
	SOAP12 map[string]bool
	// AnyID: the client can send any text as instanceId (upper case, braces, not a
	// GUID at all) and no instanceId. Without it, ids go out as the client's GUID
	// type writes them.
	AnyID bool
	// Absent: besides a nil reason or identity, the client can leave the element out.
	Absent bool
}

// Identities are the definition identities the cases use, read from the server
// (wimpctl get --json) rather than hard-coded.
type Identities struct {
	Expense   Identity // ExpenseApproval's, as its new instances have it
	Hello     Identity // Hello's
	ExpenseV1 Identity // ExpenseApproval created with --version 1.0.0.0
}

// of returns the identity of an instance set up in s, created with version.
func (ids Identities) of(s State, version string) Identity {
	switch {
	case s == Closed:
		return ids.Hello
	case version == ids.ExpenseV1.Version:
		return ids.ExpenseV1
	}
	return ids.Expense
}

// Case is one client call with its set-up and expectation.
type Case struct {
	Name    string
	Binding string
	Op      string
	Setup   State
	// Version: create the instance with wimpctl create --version (default: the
	// server's choice for the definition).
	Version string
	// Reason and Identity are the arguments; nil is sent as the client's null.
	Reason   *string
	Identity *Identity
	// ReasonMode and IdentityMode are "absent" to leave the element out (Client.Absent).
	ReasonMode, IdentityMode string
	// IDForm rewrites the instance id as sent (upper case, braces, …); nil sends it as is.
	IDForm func(id string) string
	// NoID: send no instanceId.
	NoID bool
	Want Want
	ID   string // the instance's id (lower case), filled by set-up
}

// SentID is the instanceId as the call sends it ("" with NoID).
func (c *Case) SentID() string {
	switch {
	case c.NoID:
		return ""
	case c.IDForm != nil:
		return c.IDForm(c.ID)
	}
	return c.ID
}

// TextID tells whether the id goes out other than as a lower-case hyphenated GUID
// (or not at all), which a client with a GUID-typed contract cannot send.
func (c *Case) TextID() bool { return c.IDForm != nil || c.NoID }

// Call is one input line of the JSON drivers (Mono's, zeep's and svcutil's).
type Call struct {
	Seq          int       `json:"seq"`
	Binding      string    `json:"binding"`
	Op           string    `json:"op"`
	ID           string    `json:"id"`
	Reason       *string   `json:"reason"`
	ReasonMode   string    `json:"reasonMode,omitempty"` // zeep: absent
	Identity     *Identity `json:"identity"`
	IdentityMode string    `json:"identityMode,omitempty"` // zeep: absent
	TextID       bool      `json:"textId,omitempty"`       // Mono: send the id as a string, verbatim
	IDNull       bool      `json:"idNull,omitempty"`       // send no id (Mono: xsi:nil; zeep: left out)
}

// Call is c as the seq-th input line of a JSON driver.
func (c *Case) Call(seq int) Call {
	return Call{Seq: seq, Binding: c.Binding, Op: c.Op, ID: c.SentID(), Reason: c.Reason, ReasonMode: c.ReasonMode,
		Identity: c.Identity, IdentityMode: c.IdentityMode, TextID: c.TextID(), IDNull: c.NoID}
}

func strp(s string) *string { return &s }

// BuildCases returns every call cl makes over binding: each operation in each
// state, plus reason, id and identity variants as far as cl can send them. Every
// expectation on an existing instance also checks its definition identity.
func BuildCases(cl Client, binding string, ids Identities) []*Case {
	ident := ids.Expense
	var cs []*Case
	add := func(name, op string, setup State, w Want) *Case {
		c := &Case{Name: fmt.Sprintf("%s/%s/%s/%s", cl.Name, binding, op, name), Binding: binding, Op: op, Setup: setup, Want: w}
		cs = append(cs, c)
		return c
	}
	for _, op := range Operations() {
		for _, s := range AllStates {
			reason := ""
			c := add(s.String(), op, s, Want{})
			if TakesReason(op) {
				reason = fmt.Sprintf("interop %s via %s/%s", op, cl.Name, binding)
				c.Reason = strp(reason)
			}
			if IsUpdate(op) {
				id := ids.of(s, "")
				c.Identity = &id
			}
			c.Want = Expect(op, s, reason)
		}
	}

	// Suspend's reason is required: null, empty or blank is a Sender fault without
	// subcode, checked before the instance is looked up.
	nullModes := []string{"nil"}
	if cl.Absent {
		nullModes = append(nullModes, "absent")
	}
	for _, op := range []string{"Suspend", "TransactedSuspend"} {
		for _, s := range []State{Active, Suspended, Terminated, Unknown} {
			unchanged := StateOf(s)
			unchanged.Fault = Sender
			for _, mode := range nullModes {
				c := add("reason-"+mode+"/"+s.String(), op, s, unchanged)
				if mode != "nil" {
					c.ReasonMode = mode
				}
			}
			add("reason-empty/"+s.String(), op, s, unchanged).Reason = strp("")
		}
		add("reason-blank/Active", op, Active, Want{Fault: Sender, State: "Active"}).Reason = strp("  \t ")
		add("reason-nonascii/Active", op, Active, Want{State: "Suspended", Reason: NonASCIIReason}).Reason = strp(NonASCIIReason)
		add("reason-nonascii/Suspended", op, Suspended, Want{State: "Suspended", Reason: NonASCIIReason}).Reason = strp(NonASCIIReason)
	}
	// Terminate and Abandon take an optional reason.
	for _, op := range []string{"Terminate", "TransactedTerminate"} {
		terminated := Want{State: "Completed", Completion: "Terminated"}
		add("reason-nil/Active", op, Active, terminated)
		add("reason-empty/Suspended", op, Suspended, terminated).Reason = strp("")
		add("reason-nonascii/Active", op, Active, terminated).Reason = strp(NonASCIIReason)
	}
	add("reason-nil/Active", "Abandon", Active, StateOf(Active))
	add("reason-nil/Suspended", "Abandon", Suspended, StateOf(Suspended))
	add("reason-nonascii/Suspended", "Abandon", Suspended, StateOf(Suspended)).Reason = strp(NonASCIIReason)

	if cl.AnyID {
		// Upper-case ids (Mono's Guid-typed contract always writes lower case, so
		// Mono sends these through its string-typed contract).
		upper := func(name, op string, s State, w Want) *Case {
			c := add("uppercase-id/"+name, op, s, w)
			c.IDForm = strings.ToUpper
			return c
		}
		upper("Active", "Suspend", Active, Want{State: "Suspended", Reason: "upper-case id"}).Reason = strp("upper-case id")
		upper("Suspended", "TransactedUnsuspend", Suspended, Want{State: "Active"})
		upper("Suspended", "Cancel", Suspended, Want{State: "Completed", Completion: "Canceled", Eventually: true})
		upper("Active", "TransactedTerminate", Active, Want{State: "Completed", Completion: "Terminated"}).Reason = strp("upper-case id")
		upper("Terminated", "Run", Terminated, Want{Fault: "InstanceTerminated", State: "Completed", Completion: "Terminated"})
		upper("Unknown", "Run", Unknown, Want{Fault: "InstanceNotFound"})
		cur := ident
		upper("Active", "Update", Active, Want{State: "Active"}).Identity = &cur

		// Other GUID forms .NET's Guid.Parse accepts, and ids that are not GUIDs
		// (docs/protocol.md, Validation order: DeserializationFailed in WCF's dispatcher namespace; the
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
			c := add("id-"+form.name+"/Active", "Suspend", Active, Want{State: "Suspended", Reason: "id form " + form.name})
			c.Reason, c.IDForm = strp("id form "+form.name), form.f
		}
		deserialization := Want{Fault: "DeserializationFailed", FaultNS: NSDispatcher}
		// No instanceId at all (Mono: xsi:nil through the string contract; zeep: left out).
		for _, op := range []string{"Run", "TransactedSuspend"} {
			c := add("id-missing", op, Unknown, deserialization)
			c.NoID = true
			if TakesReason(op) {
				c.Reason = strp("no id")
			}
		}
		bad := []struct {
			name, id string
			w        Want
		}{
			{"not-a-guid", "not-a-guid", deserialization},
			{"empty", "", deserialization},
			{"too-short", "3f2504e0-4f89-41d3-9a0c-0305e82c330", deserialization},
			{"all-zero", "00000000-0000-0000-0000-000000000000", Want{Fault: "InstanceNotFound"}},
		}
		for _, b := range bad {
			for _, op := range []string{"Run", "Suspend", "TransactedUpdate"} {
				c := add("id-"+b.name, op, Unknown, b.w)
				if TakesReason(op) {
					c.Reason = strp("bad id")
				}
				if IsUpdate(op) {
					cur := ident
					c.Identity = &cur
				}
				id := b.id
				c.IDForm = func(string) string { return id }
			}
		}
	}

	// Update from ExpenseApproval 1.0.0.0 to a registered definition that declares
	// it can update from it (the samples' 2.0.0.0): identity switched. To one that
	// declares it but is incompatible (1.5.0.0, the redesign: its Receive has a new
	// activity Id): UpdateFailed, identity unchanged. The target versions are the
	// samples' scenario; the current identity is read from the server.
	v1 := ids.ExpenseV1
	v2 := Identity{Name: v1.Name, Package: v1.Package, Version: "2.0.0.0"}
	redesign := Identity{Name: v1.Name, Package: v1.Package, Version: "1.5.0.0"}
	for _, op := range []string{"Update", "TransactedUpdate"} {
		for _, s := range []State{Active, Suspended} {
			to, cur, r := v2, v1, redesign
			switched := StateOf(s)
			switched.Definition = &to
			c := add("from-v1-to-updatable-v2/"+s.String(), op, s, switched)
			c.Identity, c.Version = &to, v1.Version
			same := StateOf(s)
			same.Definition = &v1
			c = add("v1-to-current-v1/"+s.String(), op, s, same)
			c.Identity, c.Version = &cur, v1.Version
			failed := StateOf(s)
			failed.Fault = "UpdateFailed"
			failed.Definition = &v1
			c = add("from-v1-to-incompatible-redesign/"+s.String(), op, s, failed)
			c.Identity, c.Version = &r, v1.Version
		}
	}

	// Update: a nil or absent identity never matches; neither does another one.
	other := Identity{Name: ident.Name, Package: ident.Package, Version: "99.9.9.9"}
	nameOnly := Identity{Name: ident.Name}
	for _, op := range []string{"Update", "TransactedUpdate"} {
		for _, s := range []State{Active, Suspended} {
			failed := StateOf(s)
			failed.Fault = "UpdateFailed"
			failed.Definition = &ident
			for _, mode := range nullModes {
				c := add("identity-"+mode+"/"+s.String(), op, s, failed)
				if mode != "nil" {
					c.IdentityMode = mode
				}
			}
			o, n := other, nameOnly
			add("identity-other-version/"+s.String(), op, s, failed).Identity = &o
			add("identity-name-only/"+s.String(), op, s, failed).Identity = &n
		}
	}

	// An instance's definition identity changes only by a successful Update to
	// another one: check it after every call on an existing instance.
	for _, c := range cs {
		if c.Want.State != "" && c.Want.Definition == nil {
			d := ids.of(c.Setup, c.Version)
			c.Want.Definition = &d
		}
	}
	return cs
}

// CheckCoverage reports what the cases lack: every operation of the contract with
// at least one success and one fault, and unique case names.
func CheckCoverage(cases []*Case) error {
	seen := map[string]bool{}
	ok, fault := map[string]bool{}, map[string]bool{}
	var problems []string
	for _, c := range cases {
		if seen[c.Name] {
			problems = append(problems, "duplicate case "+c.Name)
		}
		seen[c.Name] = true
		if c.Want.Fault == "" {
			ok[c.Op] = true
		} else {
			fault[c.Op] = true
		}
	}
	for _, op := range Operations() {
		if !ok[op] || !fault[op] {
			problems = append(problems, "operation "+op+" lacks a success or a fault case")
		}
	}
	if len(ok) > 13 || len(fault) > 13 || len(Operations()) != 13 {
		problems = append(problems, fmt.Sprintf("%d operations in the contract, cases for %d", len(Operations()), max(len(ok), len(fault))))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "\n"))
	}
	return nil
}
