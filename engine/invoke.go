package engine

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/workflow"
)

// InvokeWorkflow (FORMAT.md, "InvokeWorkflow") starts a child instance of another definition
// and waits for it to complete. The engine prepares the child (its definition looked up and
// its inputs checked through the Invoker, its first state built by Start) and hands it to the
// host with TakeStartedChildren; the host stores it in the same commit as the image of the
// parent that started it, so a child exists exactly when its parent's image says it waits for
// it. The host delivers the child's completion with CompleteChild. A child the parent stops
// waiting for is reported by TakeOrphans: canceled when the InvokeWorkflow was canceled,
// terminated when it was aborted (the parent terminated or faulted).

// InvokeWorkflowError is raised by an InvokeWorkflow whose child could not be started (no such
// definition, inputs that do not fit it, a correlation key in use) or completed Canceled or
// Terminated. A child that faulted raises its own exception in the parent instead.
const InvokeWorkflowError = "InvokeWorkflowError"

// ImageFormatChildren is the version tag of an image holding an InvokeWorkflow that waits for
// its child: version 2 plus the activities' "invoked" field. Snapshot writes it only then.
const ImageFormatChildren = "wimp-image/3"

// Invoker is what an instance needs from its host to start child instances.
type Invoker interface {
	// Lookup finds a registered definition by name ("Name" or "Package.Name") and version (""
	// for the newest).
	Lookup(name, version string) (*Definition, error)
	// KeyInUse reports whether a stored instance holds the correlation key (false when that
	// cannot be told: the commit that stores the child refuses a duplicate key anyway).
	KeyInUse(key string) bool
}

// SetInvoker gives the instance the host's Invoker; without one an InvokeWorkflow raises
// InvokeWorkflowError.
func (in *Instance) SetInvoker(iv Invoker) { in.invoker = iv }

// invokeNode is the parsed form of an InvokeWorkflow element.
type invokeNode struct {
	definition string // "Name" or "Package.Name"
	version    string // "" for the newest registered when the activity executes
	input      *Expr  // an Object of argument values; nil for none
}

// invoked is an executing InvokeWorkflow's child (actInst.Invoked).
type invoked struct {
	ID         uuid.UUID         `json:"id"`
	Definition workflow.Identity `json:"definition"`
	Outcome    *ChildOutcome     `json:"outcome,omitempty"` // delivered, until Invoke.done runs
}

// ChildOutcome is how a child instance completed, as the host delivers it.
type ChildOutcome struct {
	Completion workflow.Completion `json:"completion"`
	Reason     string              `json:"reason,omitempty"`    // Terminated: the reason; Faulted: the message
	Exception  *Exception          `json:"exception,omitempty"` // Faulted: the exception
	Outputs    map[string]any      `json:"outputs,omitempty"`   // the child's variables at its completion
}

// Orphan is a child instance its parent no longer waits for: the host cancels it (Terminate
// false) or terminates it.
type Orphan struct {
	ID        uuid.UUID
	Terminate bool
}

// ErrChildNotFound: CompleteChild named a child the instance does not wait for (any more).
var ErrChildNotFound = errors.New("engine: no InvokeWorkflow waits for this child")

const phaseWaiting = "waiting" // InvokeWorkflow: its child is running

func init() {
	resumptions["InvokeWorkflow.done"] = invokeDone
}

// invokeAttrs reads an InvokeWorkflow's attributes.
func (p *parser) invokeAttrs(n *xnode, m map[string]string, a *activity) error {
	if err := p.require(n, m, "Definition"); err != nil {
		return err
	}
	x := &invokeNode{definition: strings.TrimSpace(m["Definition"]), version: strings.TrimSpace(m["Version"])}
	if isBracketed(x.definition) || isBracketed(x.version) {
		return p.errAt(n, "Definition and Version of <InvokeWorkflow> are literals, not expressions")
	}
	if x.definition == "" {
		return p.errAt(n, "empty Definition on <InvokeWorkflow>")
	}
	if _, ok := m["Version"]; ok {
		if _, err := workflow.ParseVersion(x.version); err != nil {
			return p.errAt(n, "Version: %v", err)
		}
	}
	if _, ok := m["Input"]; ok {
		e, err := p.exprAttr(n, m, "Input", Object, false)
		if err != nil {
			return err
		}
		x.input = e
	}
	if r, ok := m["Result"]; ok {
		v, err := p.varRef(n, "Result", r)
		if err != nil {
			return err
		}
		if v.Type != Object {
			return p.errAt(n, "Result=%q is a %s variable; the child's outputs are an Object", r, v.Type)
		}
		a.Result = v.Name
	}
	a.invoke = x
	return nil
}

func execInvoke(in *Instance, a *actInst, n *activity) *Exception {
	x := n.invoke
	fail := func(format string, args ...any) *Exception {
		return &Exception{Name: InvokeWorkflowError, Message: fmt.Sprintf(format, args...)}
	}
	if in.invoker == nil {
		return fail("this host does not start child instances")
	}
	def, err := in.invoker.Lookup(x.definition, x.version)
	if err != nil {
		return fail("cannot start a child of %s: %v", x.definition, err)
	}
	var inputs map[string]any
	if x.input != nil {
		v, exc := in.evalAt(a, x.input)
		if exc != nil {
			return exc
		}
		m, ok := v.(map[string]any)
		if !ok && v != nil {
			return &Exception{Name: TypeError, Message: fmt.Sprintf("Input %s yielded %s, not an Object", x.input.Source, aTypeName(v))}
		}
		inputs = m
	}
	// The child's id is derived from this execution (instance, activity instance, clock). The
	// child exists only once the commit holding this step is durable; an execution that was not
	// committed (a crash, an Abandon) runs again later and starts a child with another id.
	id := uuid.NewSHA1(in.id, []byte(fmt.Sprintf("wimp/child/%d@%s", a.N, in.clock.Format(time.RFC3339Nano))))
	child, err := Start(def, id, inputs, in.clock)
	if err != nil {
		return fail("cannot start a child of %s: %v", def.Identity, err)
	}
	if key := child.CorrelationKey(); key != "" {
		taken := in.invoker.KeyInUse(key)
		for _, c := range in.started {
			taken = taken || c.CorrelationKey() == key
		}
		if taken {
			return fail("cannot start a child of %s: correlation key %q is in use by another instance", def.Identity, truncate(key, 200))
		}
	}
	a.Invoked = &invoked{ID: child.id, Definition: def.Identity}
	a.Phase = phaseWaiting
	in.started = append(in.started, child)
	in.track(workflow.Record{Kind: workflow.ActivityRecord, Name: "ChildStarted", Activity: a.Act,
		Data: jsonData(map[string]string{"child": child.id.String(), "definition": def.Identity.String()})})
	return nil
}

// cancelInvoke: the InvokeWorkflow completes Canceled at once and its child is canceled (the
// host applies Cancel to it; the parent does not wait for the child's cancellation).
func cancelInvoke(in *Instance, a *actInst, _ *activity) *Exception {
	if a.Invoked != nil && a.Phase == phaseWaiting {
		in.orphans = append(in.orphans, Orphan{ID: a.Invoked.ID})
		a.Invoked = nil
	}
	in.complete(a, ActivityCanceled)
	return nil
}

// releaseChild: an InvokeWorkflow leaves the tree while its child runs (aborted: the parent is
// terminated, or faulted): the child is terminated.
func (in *Instance) releaseChild(a *actInst) {
	if a.Invoked != nil && a.Phase == phaseWaiting {
		in.orphans = append(in.orphans, Orphan{ID: a.Invoked.ID, Terminate: true})
	}
}

func invokeDone(in *Instance, a *actInst, n *activity, _ any) *Exception {
	c := a.Invoked
	if c == nil || c.Outcome == nil || a.Phase != phaseDelivered {
		return &Exception{Name: InvalidOperationError, Message: "child outcome missing"}
	}
	o := c.Outcome
	data := map[string]string{"child": c.ID.String(), "completion": string(o.Completion)}
	in.track(workflow.Record{Kind: workflow.ActivityRecord, Name: "ChildCompleted", Activity: a.Act, Data: jsonData(data)})
	a.Invoked = nil
	switch o.Completion {
	case workflow.Closed:
		if n.Result != "" {
			outputs := o.Outputs
			if outputs == nil {
				outputs = map[string]any{}
			}
			if exc := in.assign(n.Result, outputs); exc != nil {
				return exc
			}
		}
		in.complete(a, ActivityClosed)
		return nil
	case workflow.Faulted:
		if o.Exception != nil && validExceptionName(o.Exception.Name) {
			return &Exception{Name: o.Exception.Name, Message: o.Exception.Message}
		}
		return &Exception{Name: InvokeWorkflowError, Message: fmt.Sprintf("child %s faulted: %s", c.ID, o.Reason)}
	case workflow.Terminated:
		return &Exception{Name: InvokeWorkflowError, Message: fmt.Sprintf("child %s was terminated: %s", c.ID, o.Reason)}
	default:
		return &Exception{Name: InvokeWorkflowError, Message: fmt.Sprintf("child %s completed %s", c.ID, o.Completion)}
	}
}

// CompleteChild delivers the completion of child id; the resumption is queued (call Run). It
// is accepted while the instance is paused by an unhandled exception (the outcome waits in the
// image). Errors: ErrCompleted, ErrChildNotFound. Outputs that are not JSON are delivered as an
// empty object.
func (in *Instance) CompleteChild(id uuid.UUID, o ChildOutcome) error {
	if in.completion != workflow.NotCompleted {
		return ErrCompleted
	}
	for _, a := range in.acts {
		if a.Invoked == nil || a.Invoked.ID != id || a.Phase != phaseWaiting {
			continue
		}
		if v, err := normalize(o.Outputs); err == nil {
			o.Outputs, _ = v.(map[string]any)
		} else {
			o.Outputs = nil
		}
		if o.Exception != nil {
			e := *o.Exception
			o.Exception = &e
		}
		a.Phase = phaseDelivered
		a.Invoked.Outcome = &o
		in.trackLoad()
		in.enqueue(workItem{Op: opResume, Target: a.N, Callback: "InvokeWorkflow.done"})
		return nil
	}
	return fmt.Errorf("%w: %s", ErrChildNotFound, id)
}

// TakeStartedChildren returns the children started since the last call, not yet run, and
// forgets them: the host stores them with the image that waits for them.
func (in *Instance) TakeStartedChildren() []*Instance {
	out := in.started
	in.started = nil
	return out
}

// TakeOrphans returns the children the instance stopped waiting for since the last call, and
// forgets them.
func (in *Instance) TakeOrphans() []Orphan {
	out := in.orphans
	in.orphans = nil
	return out
}

// Children lists the children the instance waits for (their outcome not yet delivered), by id.
func (in *Instance) Children() []uuid.UUID {
	var out []uuid.UUID
	for _, a := range in.acts {
		if a.Invoked != nil && a.Phase == phaseWaiting {
			out = append(out, a.Invoked.ID)
		}
	}
	slices.SortFunc(out, func(x, y uuid.UUID) int { return strings.Compare(x.String(), y.String()) })
	return out
}

// checkInvokedImage checks an activity instance's child state against its node ("" when fine).
func checkInvokedImage(a *actInst, n *activity) string {
	if a.Invoked == nil {
		if n.invoke != nil && (a.Phase == phaseWaiting || a.Phase == phaseDelivered) {
			return "an InvokeWorkflow without its child"
		}
		return ""
	}
	switch {
	case n.invoke == nil:
		return "a child outside an InvokeWorkflow"
	case a.Invoked.ID == uuid.Nil:
		return "a child without an id"
	case a.Phase == phaseWaiting && a.Invoked.Outcome != nil:
		return "a child outcome before its delivery"
	case a.Phase == phaseDelivered && a.Invoked.Outcome == nil:
		return "a delivered child without its outcome"
	case a.Phase != phaseWaiting && a.Phase != phaseDelivered:
		return fmt.Sprintf("bad InvokeWorkflow phase %q", a.Phase)
	}
	return ""
}
