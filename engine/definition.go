package engine

import (
	"fmt"

	"github.com/wimp-project/wimp/workflow"
)

// Type is the declared type of an argument or variable.
type Type string

// The four value types. Values are held in their JSON form: Number is float64, Object any JSON
// value (nil, float64, string, bool, []any, map[string]any).
const (
	Number  Type = "Number"
	String  Type = "String"
	Boolean Type = "Boolean"
	Object  Type = "Object"
)

func (t Type) valid() bool {
	switch t {
	case Number, String, Boolean, Object:
		return true
	}
	return false
}

func (t Type) zero() any {
	switch t {
	case Number:
		return float64(0)
	case String:
		return ""
	case Boolean:
		return false
	}
	return nil
}

// Argument is an input argument (`<In>`).
type Argument struct {
	Name     string
	Type     Type
	Required bool
	Default  *Expr // nil: the type's zero value
}

// Variable is a workflow variable.
type Variable struct {
	Name    string
	Type    Type
	Default *Expr // nil: the type's zero value
}

// Kind is an activity type name, as written in XML.
type Kind string

// Activity kinds.
const (
	KindSequence          Kind = "Sequence"
	KindIf                Kind = "If"
	KindWhile             Kind = "While"
	KindDoWhile           Kind = "DoWhile"
	KindAssign            Kind = "Assign"
	KindWriteLine         Kind = "WriteLine"
	KindDelay             Kind = "Delay"
	KindReceive           Kind = "Receive"
	KindPick              Kind = "Pick"
	KindPickBranch        Kind = "PickBranch" // structural: never instantiated at run time
	KindParallel          Kind = "Parallel"
	KindTryCatch          Kind = "TryCatch"
	KindThrow             Kind = "Throw"
	KindCancellationScope Kind = "CancellationScope"
	KindTerminateWorkflow Kind = "TerminateWorkflow"
	KindPersist           Kind = "Persist"
	KindStateMachine      Kind = "StateMachine"
	KindState             Kind = "State"      // structural: never instantiated at run time
	KindFinalState        Kind = "FinalState" // structural
	KindTransition        Kind = "Transition" // structural
	KindForEach           Kind = "ForEach"
	KindParallelForEach   Kind = "ParallelForEach"
	KindInvokeWorkflow    Kind = "InvokeWorkflow"
)

// structuralParent maps each structural kind (a part of its parent, never instantiated at run
// time) to the only kind it may appear in, as a direct child.
var structuralParent = map[Kind]Kind{
	KindPickBranch: KindPick,
	KindState:      KindStateMachine,
	KindFinalState: KindStateMachine,
	KindTransition: KindState,
}

func (k Kind) structural() bool { _, ok := structuralParent[k]; return ok }

func (k Kind) forEach() bool { return k == KindForEach || k == KindParallelForEach }

// activity is one node of a definition's activity tree.
type activity struct {
	Kind        Kind
	ID          string
	DisplayName string
	Line, Col   int
	parent      *activity // nearest enclosing node (may be a structural node)

	// Sequence and Parallel: activities; Pick: PickBranch nodes; StateMachine: State and
	// FinalState nodes; State: Transition nodes.
	Children []*activity
	Body     *activity // While, DoWhile, CancellationScope, ForEach, ParallelForEach
	Then     *activity // If
	Else     *activity // If
	Trigger  *activity // PickBranch; Transition (nil: none; with TriggerRef, the shared one)
	Action   *activity // PickBranch, Transition
	Try      *activity // TryCatch
	Catches  []catchClause
	Finally  *activity // TryCatch
	Handler  *activity // CancellationScope
	Entry    *activity // State, FinalState
	Exit     *activity // State

	// If, While, DoWhile, Transition (optional); Parallel and ParallelForEach
	// CompletionCondition (optional).
	Condition    *Expr
	Value        *Expr  // Assign
	Text         *Expr  // WriteLine
	Duration     *Expr  // Delay
	Message      *Expr  // Throw (optional)
	Reason       *Expr  // TerminateWorkflow (optional)
	Values       *Expr  // ForEach, ParallelForEach
	BookmarkExpr *Expr  // Receive with a computed name (Bookmark is then "")
	To           string // Assign: variable; Transition: target state id
	Bookmark     string // Receive with a literal name
	Result       string
	Exception    string // Throw
	InitialState string // StateMachine
	TriggerRef   string // Transition sharing the trigger of an earlier transition (its id)
	Variable     string // ForEach, ParallelForEach: the loop variable ("" for none)

	// A Go activity (custom, HttpRequest): its type, arguments and policy.
	ext *externalNode
	// InvokeWorkflow: the child's definition and inputs.
	invoke *invokeNode
}

type catchClause struct {
	Exception string // "" catches everything
	Body      *activity
}

func (c catchClause) matches(name string) bool { return c.Exception == "" || c.Exception == name }

// runParent returns the nearest ancestor that is instantiated at run time (skips structural
// nodes: PickBranch, State, FinalState, Transition).
func (a *activity) runParent() *activity {
	p := a.parent
	for p != nil && p.Kind.structural() {
		p = p.parent
	}
	return p
}

// child returns the direct child (a StateMachine's state, a State's transition) with this id.
func (a *activity) child(id string) *activity {
	for _, c := range a.Children {
		if c.ID == id {
			return c
		}
	}
	return nil
}

// triggerGroup returns, in document order, the transitions of state a whose trigger is the
// activity with this id (several when they share it).
func (a *activity) triggerGroup(triggerID string) []*activity {
	var out []*activity
	for _, t := range a.Children {
		if t.Trigger != nil && t.Trigger.ID == triggerID {
			out = append(out, t)
		}
	}
	return out
}

// Definition is a parsed, validated workflow definition. It is immutable and safe to share.
type Definition struct {
	Identity      workflow.Identity
	UpdatableFrom []workflow.Identity
	// MaxWorkItems is how many work items an instance may run without becoming idle before
	// the host suspends it; 0 leaves it to the host's default.
	MaxWorkItems int
	// CorrelationKey computes, when an instance starts, the business key it is found by (nil:
	// none); Promoted are the properties stored with it on every persist.
	CorrelationKey *Expr
	Promoted       []Promotion
	// Tracking is the definition's tracking profile (nil: the host's).
	Tracking  *workflow.TrackingProfile
	Arguments []Argument
	Variables []Variable
	File      string // where it was loaded from (for messages)

	root  *activity
	byID  map[string]*activity
	order []*activity // document order
}

// Activity describes one activity of a definition (for tools and hosts).
type Activity struct {
	ID          string
	Kind        Kind
	DisplayName string
	Line        int
}

// Activities lists the definition's activities in document order (the structural nodes
// PickBranch, State, FinalState and Transition included).
func (d *Definition) Activities() []Activity {
	out := make([]Activity, 0, len(d.order))
	for _, a := range d.order {
		out = append(out, Activity{ID: a.ID, Kind: a.Kind, DisplayName: a.DisplayName, Line: a.Line})
	}
	return out
}

// RootID is the id of the root activity.
func (d *Definition) RootID() string { return d.root.ID }

func (d *Definition) argument(name string) (Argument, bool) {
	for _, a := range d.Arguments {
		if a.Name == name {
			return a, true
		}
	}
	return Argument{}, false
}

func (d *Definition) variable(name string) (Variable, bool) {
	for _, v := range d.Variables {
		if v.Name == name {
			return v, true
		}
	}
	return Variable{}, false
}

// ParseInputs converts textual inputs (e.g. from a command line "key=value") to typed values
// according to the declared argument types: Number parses a float, Boolean "true"/"false",
// String is taken as is, Object is parsed as JSON. Unknown names are errors.
func (d *Definition) ParseInputs(text map[string]string) (map[string]any, error) {
	out := make(map[string]any, len(text))
	for k, s := range text {
		arg, ok := d.argument(k)
		if !ok {
			return nil, fmt.Errorf("%w: unknown input %q for %s", ErrInvalidInput, k, d.Identity)
		}
		v, err := parseLiteral(s, arg.Type)
		if err != nil {
			return nil, fmt.Errorf("%w: input %q: %v", ErrInvalidInput, k, err)
		}
		out[k] = v
	}
	return out, nil
}
