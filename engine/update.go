package engine

import (
	"fmt"
	"sort"

	"github.com/wimp-project/wimp/workflow"
)

// UpdateError explains why an instance cannot switch to another definition. It wraps
// ErrUpdateNotAllowed.
type UpdateError struct {
	From, To workflow.Identity
	Activity string // the blocking activity id, "" when the cause is not an activity
	Reason   string
}

func (e *UpdateError) Error() string {
	if e.Activity != "" {
		return fmt.Sprintf("engine: cannot update %s to %s: activity %q %s", e.From, e.To, e.Activity, e.Reason)
	}
	return fmt.Sprintf("engine: cannot update %s to %s: %s", e.From, e.To, e.Reason)
}

func (e *UpdateError) Unwrap() error { return ErrUpdateNotAllowed }

// Update switches the instance to newDef (WF4 dynamic update, restricted to compatible
// definitions). newDef must list the current identity in UpdatableFrom, and every live activity
// (and every activity a queued callback refers to) must exist in newDef under the same id, with
// the same type and the same parent. Variables and arguments new in newDef get their defaults;
// ones that disappeared are dropped; a changed type must convert. The same identity is a no-op.
// Errors: ErrCompleted, *UpdateError (the instance is unchanged). Tracks Updated/UpdateFailed.
func (in *Instance) Update(newDef *Definition) error {
	if in.completion != workflow.NotCompleted {
		return ErrCompleted
	}
	old := in.def.Identity
	if newDef.Identity.Equal(old) {
		return nil
	}
	if err := in.checkUpdate(newDef); err != nil {
		in.track(workflow.Record{Kind: workflow.InstanceRecord, Name: "UpdateFailed", Reason: err.Error(),
			Data: jsonData(map[string]workflow.Identity{"from": old, "to": newDef.Identity})})
		return err
	}
	in.track(workflow.Record{Kind: workflow.InstanceRecord, Name: "Updated",
		Data: jsonData(map[string]workflow.Identity{"from": old, "to": newDef.Identity})})
	in.armNewTriggers()
	return nil
}

// machineItems returns the queued (and held) completion callbacks for the machine a whose
// child still matters: not the Entry placeholder, not stale triggers of a state already left.
func (in *Instance) machineItems(a *actInst) []workItem {
	items := in.queue
	if in.unhandled != nil && in.unhandled.Pending != nil {
		items = append(append([]workItem(nil), items...), *in.unhandled.Pending)
	}
	var out []workItem
	for _, w := range items {
		if w.Op == opCallback && w.Target == a.N && w.Child != nil && w.Child.Activity != "" && w.Child.N > a.Index {
			out = append(out, w)
		}
	}
	return out
}

// checkMachineUpdate checks a running StateMachine against nd: its current state (and the
// transition it is taking) must exist there, and every activity it runs must have the same role
// there: the Entry or Exit of that state, a trigger of one of its transitions, the Action of the
// transition being taken.
func (in *Instance) checkMachineUpdate(nd *Definition, a *actInst, fail func(act, format string, args ...any) error) error {
	if a.State == "" {
		return nil // not started yet
	}
	from := in.def.Identity
	st := nd.byID[a.Act].child(a.State)
	if st == nil {
		return fail(a.Act, "is in state %q, which does not exist in %s", a.State, nd.Identity)
	}
	if old := in.node(a).child(a.State); old != nil && old.Kind != st.Kind {
		return fail(a.Act, "is in state %q, a %s in %s but a %s in %s", a.State, old.Kind, from, st.Kind, nd.Identity)
	}
	var win *activity
	if a.Winner != "" {
		if win = st.child(a.Winner); win == nil {
			return fail(a.Act, "is taking transition %q of state %q, which does not exist in %s", a.Winner, a.State, nd.Identity)
		}
	}
	check := func(act, cb string) error {
		var ok bool
		role := ""
		switch cb {
		case "StateMachine.entry":
			ok, role = st.Entry != nil && st.Entry.ID == act, "the Entry of state "+a.State
		case "StateMachine.exit":
			ok, role = st.Exit != nil && st.Exit.ID == act, "the Exit of state "+a.State
		case "StateMachine.trigger":
			ok, role = len(st.triggerGroup(act)) > 0, "a trigger of state "+a.State
		case "StateMachine.action":
			ok, role = win != nil && win.Action != nil && win.Action.ID == act, "the Action of transition "+a.Winner
		}
		if !ok {
			return fail(act, "moved: it is %s in %s but not in %s", role, from, nd.Identity)
		}
		return nil
	}
	for _, c := range a.Children {
		if ch := in.acts[c]; ch != nil {
			if err := check(ch.Act, ch.Callback); err != nil {
				return err
			}
		}
	}
	for _, w := range in.machineItems(a) {
		if err := check(w.Child.Activity, w.Callback); err != nil {
			return err
		}
	}
	return nil
}

// armNewTriggers schedules, after an update, the triggers of transitions that the new
// definition added to a state a machine waits in (WF reschedules newly added triggers).
// Transitions without a trigger are only tried when a state is entered.
func (in *Instance) armNewTriggers() {
	ns := make([]int, 0, len(in.acts))
	for n, a := range in.acts {
		if a.Kind == KindStateMachine && a.Phase == phaseTriggers {
			ns = append(ns, n)
		}
	}
	sort.Ints(ns)
	for _, n := range ns {
		a := in.acts[n]
		st := in.node(a).child(a.State)
		if st == nil {
			continue
		}
		running := map[string]bool{}
		for _, c := range a.Children {
			if ch := in.acts[c]; ch != nil {
				running[ch.Act] = true
			}
		}
		for _, w := range in.machineItems(a) {
			running[w.Child.Activity] = true
		}
		for _, t := range st.Children {
			if t.Trigger != nil && t.TriggerRef == "" && !running[t.Trigger.ID] {
				in.schedule(a, t.Trigger, "StateMachine.trigger")
			}
		}
	}
}

func (in *Instance) checkUpdate(nd *Definition) error {
	from := in.def.Identity
	fail := func(act, format string, args ...any) error {
		return &UpdateError{From: from, To: nd.Identity, Activity: act, Reason: fmt.Sprintf(format, args...)}
	}
	if !nd.declaresUpdateFrom(from) {
		return fail("", "%s does not declare <UpdatableFrom> %s", nd.Identity, from)
	}
	ns := make([]int, 0, len(in.acts))
	for n := range in.acts {
		ns = append(ns, n)
	}
	sort.Ints(ns)
	// placed checks that activity id sits under the activity instance parent in nd.
	placed := func(id string, kind Kind, parent *actInst) error {
		n := nd.byID[id]
		if n == nil {
			return fail(id, "(%s) is executing but does not exist in %s", kind, nd.Identity)
		}
		if kind != "" && n.Kind != kind {
			return fail(id, "is a %s in %s but a %s in %s", kind, from, n.Kind, nd.Identity)
		}
		rp := n.runParent()
		switch {
		case parent == nil && rp != nil:
			return fail(id, "is the root activity in %s but not in %s", from, nd.Identity)
		case parent != nil && (rp == nil || rp.ID != parent.Act):
			return fail(id, "moved: its parent is %q in %s", parent.Act, from)
		}
		return nil
	}
	for _, n := range ns {
		a := in.acts[n]
		if err := placed(a.Act, a.Kind, in.acts[a.Parent]); err != nil {
			return err
		}
		node := nd.byID[a.Act]
		switch a.Kind {
		case KindStateMachine:
			if err := in.checkMachineUpdate(nd, a, fail); err != nil {
				return err
			}
		case KindForEach, KindParallelForEach:
			if ov := in.node(a).Variable; ov != node.Variable {
				return fail(a.Act, "renamed its loop variable from %q to %q in %s", ov, node.Variable, nd.Identity)
			}
		}
		if a.Winner != "" && a.Kind == KindPick {
			ok := false
			for _, br := range node.Children {
				ok = ok || br.ID == a.Winner
			}
			if !ok {
				return fail(a.Act, "chose branch %q, which does not exist in %s", a.Winner, nd.Identity)
			}
		}
		if a.Catch > 0 {
			oc := in.node(a).Catches[a.Catch-1]
			if a.Catch > len(node.Catches) || node.Catches[a.Catch-1].Exception != oc.Exception {
				return fail(a.Act, "is running a Catch that does not exist in %s", nd.Identity)
			}
		}
	}
	items := in.queue
	if in.unhandled != nil && in.unhandled.Pending != nil {
		items = append(append([]workItem(nil), items...), *in.unhandled.Pending)
	}
	for _, w := range items {
		if w.Child == nil || w.Child.Activity == "" {
			continue
		}
		if p := in.acts[w.Target]; p != nil {
			if err := placed(w.Child.Activity, "", p); err != nil {
				return err
			}
		}
	}
	// Variables and arguments.
	oldArgs, oldVars, oldDef := in.args, in.vars, in.def
	args, vars := map[string]any{}, map[string]any{}
	var newArgs []Argument
	var newVars []Variable
	for _, a := range nd.Arguments {
		v, ok := oldArgs[a.Name]
		if !ok {
			if a.Required && a.Default == nil {
				return fail("", "argument %q is new and required but has no Default", a.Name)
			}
			newArgs = append(newArgs, a)
			args[a.Name] = a.Type.zero()
			continue
		}
		cv, err := coerce(v, a.Type)
		if err != nil {
			return fail("", "argument %q: %v", a.Name, err)
		}
		args[a.Name] = cv
	}
	for _, vd := range nd.Variables {
		v, ok := oldVars[vd.Name]
		if !ok {
			newVars = append(newVars, vd)
			vars[vd.Name] = vd.Type.zero()
			continue
		}
		cv, err := coerce(v, vd.Type)
		if err != nil {
			return fail("", "variable %q: %v", vd.Name, err)
		}
		vars[vd.Name] = cv
	}
	in.args, in.vars, in.def = args, vars, nd
	restore := func() { in.args, in.vars, in.def = oldArgs, oldVars, oldDef }
	for _, a := range newArgs {
		if a.Default == nil {
			continue
		}
		raw, exc := in.eval(a.Default)
		var v any
		var err error
		if exc == nil {
			v, err = coerce(raw, a.Type)
		}
		if exc != nil {
			restore()
			return fail("", "default of new argument %q failed: %s", a.Name, exc.Message)
		}
		if err != nil {
			restore()
			return fail("", "default of new argument %q: %v", a.Name, err)
		}
		in.args[a.Name] = v
	}
	if err := in.initVariables(newVars); err != nil {
		restore()
		return fail("", "%v", err)
	}
	return nil
}
