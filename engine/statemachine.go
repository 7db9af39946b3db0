package engine

import (
	"fmt"

	"github.com/wimp-project/wimp/workflow"
)

// StateMachine (WF 4.5's model). The machine's activity instance runs, as its own children,
// the current state's Entry, the triggers of its transitions, its Exit and the chosen
// transition's Action; State, FinalState and Transition are structural. Its image state:
// State (current state id), Phase, Winner (the transition being taken) and Index (the last
// activity instance number allocated before the state was entered: a trigger completion from an
// older instance belongs to a state visit already left and is ignored).

// StateMachine phases.
const (
	phaseEntry    = "entry"    // the state's Entry runs
	phaseTriggers = "triggers" // the triggers run; waiting for one to complete
	phaseExiting  = "exiting"  // a transition was chosen: the other triggers are being canceled
	phaseExit     = "exit"     // the state's Exit runs
	phaseAction   = "action"   // the transition's Action runs
)

// Tracking record names (Kind ActivityRecord, Activity = the state's id).
const (
	StateEnteredRecord = "StateEntered"
	StateExitedRecord  = "StateExited"
)

func execStateMachine(in *Instance, a *actInst, n *activity) *Exception {
	return in.enterState(a, n, n.InitialState)
}

// machineBroken is raised when a restored image names a state or transition that is not there.
func machineBroken(a *actInst) *Exception {
	return &Exception{Name: InvalidOperationError,
		Message: fmt.Sprintf("StateMachine %q: state %q or transition %q is not in the definition", a.Act, a.State, a.Winner)}
}

func (in *Instance) enterState(a *actInst, n *activity, id string) *Exception {
	st := n.child(id)
	if st == nil {
		a.State = id
		return machineBroken(a)
	}
	a.State, a.Phase, a.Winner, a.Index = id, phaseEntry, "", in.nextN
	in.track(workflow.Record{Kind: workflow.ActivityRecord, Name: StateEnteredRecord, Activity: id,
		Data: jsonData(map[string]string{"stateMachine": a.Act})})
	if st.Entry != nil {
		in.schedule(a, st.Entry, "StateMachine.entry")
		return nil
	}
	// Without an Entry the state still takes a work item, so that a cycle of states without
	// activities is bounded by Run's budget.
	in.enqueue(workItem{Op: opCallback, Target: a.N, Callback: "StateMachine.entry", Child: &childDone{State: ActivityClosed}})
	return nil
}

// machineStop cancels what the machine runs; it completes Canceled once nothing is left.
func (in *Instance) machineStop(a *actInst) *Exception {
	in.cancelChildren(a)
	if len(a.Children) == 0 {
		in.complete(a, ActivityCanceled)
	}
	return nil
}

func (in *Instance) transitionHolds(a *actInst, t *activity) (bool, *Exception) {
	if t.Condition == nil {
		return true, nil
	}
	ok, exc := in.evalBoolAt(a, t.Condition)
	if exc != nil {
		exc.Message = fmt.Sprintf("Transition %q: %s", t.ID, exc.Message)
	}
	return ok, exc
}

// machineEntryDone: the Entry completed. A FinalState completes the machine; otherwise the
// transitions without a trigger are tried in document order, and if none is taken the
// triggers are scheduled (one per trigger activity: transitions sharing one share its run).
func machineEntryDone(in *Instance, a *actInst, n *activity, c childDone) *Exception {
	if a.CancelRequested || c.State != ActivityClosed {
		return in.machineStop(a)
	}
	if a.Phase != phaseEntry {
		return nil
	}
	st := n.child(a.State)
	if st == nil {
		return machineBroken(a)
	}
	if st.Kind == KindFinalState {
		in.complete(a, ActivityClosed)
		return nil
	}
	for _, t := range st.Children {
		if t.Trigger != nil {
			continue
		}
		ok, exc := in.transitionHolds(a, t)
		if exc != nil {
			return exc
		}
		if ok {
			return in.takeTransition(a, n, t)
		}
	}
	a.Phase = phaseTriggers
	armed := 0
	for _, t := range st.Children {
		if t.Trigger != nil && t.TriggerRef == "" {
			in.schedule(a, t.Trigger, "StateMachine.trigger")
			armed++
		}
	}
	if armed == 0 {
		return &Exception{Name: InvalidOperationError, Message: fmt.Sprintf(
			"state %q of StateMachine %q has no transition to take: none has a trigger and no Condition holds", st.ID, a.Act)}
	}
	return nil
}

// takeTransition starts leaving the current state by t: the other triggers are canceled, then
// the Exit runs.
func (in *Instance) takeTransition(a *actInst, n *activity, t *activity) *Exception {
	a.Winner, a.Phase = t.ID, phaseExiting
	in.cancelChildren(a)
	if len(a.Children) == 0 {
		return in.machineExit(a, n)
	}
	return nil
}

// machineTriggerDone: a trigger completed. The transitions sharing it evaluate their
// Conditions in document order; the first that holds is taken. If none holds the trigger is
// scheduled again (WF runs it again), the other triggers going on.
func machineTriggerDone(in *Instance, a *actInst, n *activity, c childDone) *Exception {
	if a.CancelRequested {
		return in.machineStop(a)
	}
	if c.N <= a.Index {
		return nil // a trigger of a state visit already left (it completed as it was canceled)
	}
	switch a.Phase {
	case phaseTriggers:
		if c.State != ActivityClosed {
			return in.machineStop(a)
		}
		st := n.child(a.State)
		if st == nil {
			return machineBroken(a)
		}
		group := st.triggerGroup(c.Activity)
		for _, t := range group {
			ok, exc := in.transitionHolds(a, t)
			if exc != nil {
				return exc
			}
			if ok {
				return in.takeTransition(a, n, t)
			}
		}
		if len(group) > 0 {
			in.schedule(a, group[0].Trigger, "StateMachine.trigger")
		}
	case phaseExiting:
		if len(a.Children) == 0 {
			return in.machineExit(a, n)
		}
	}
	return nil
}

func (in *Instance) machineExit(a *actInst, n *activity) *Exception {
	st := n.child(a.State)
	if st == nil || st.child(a.Winner) == nil {
		return machineBroken(a)
	}
	a.Phase = phaseExit
	if st.Exit != nil {
		in.schedule(a, st.Exit, "StateMachine.exit")
		return nil
	}
	return in.machineExited(a, n)
}

func machineExitDone(in *Instance, a *actInst, n *activity, c childDone) *Exception {
	if a.CancelRequested || c.State != ActivityClosed {
		return in.machineStop(a)
	}
	if a.Phase != phaseExit {
		return nil
	}
	return in.machineExited(a, n)
}

// machineExited: the state is left; the transition's Action runs, then the target is entered.
func (in *Instance) machineExited(a *actInst, n *activity) *Exception {
	st := n.child(a.State)
	if st == nil || st.child(a.Winner) == nil {
		return machineBroken(a)
	}
	t := st.child(a.Winner)
	in.track(workflow.Record{Kind: workflow.ActivityRecord, Name: StateExitedRecord, Activity: st.ID,
		Data: jsonData(map[string]string{"stateMachine": a.Act, "transition": t.ID, "to": t.To})})
	a.Phase = phaseAction
	if t.Action != nil {
		in.schedule(a, t.Action, "StateMachine.action")
		return nil
	}
	return in.enterState(a, n, t.To)
}

func machineActionDone(in *Instance, a *actInst, n *activity, c childDone) *Exception {
	if a.CancelRequested || c.State != ActivityClosed {
		return in.machineStop(a)
	}
	if a.Phase != phaseAction {
		return nil
	}
	st := n.child(a.State)
	if st == nil || st.child(a.Winner) == nil {
		return machineBroken(a)
	}
	return in.enterState(a, n, st.child(a.Winner).To)
}
