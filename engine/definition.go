package engine

import (
	"fmt"
	"strconv"
	"strings"
)

// Identity is a workflow definition identity (WF4's WorkflowIdentity).
type Identity struct {
	Name    string `json:"name"`
	Package string `json:"package,omitempty"`
	Version string `json:"version"`
}

// String renders the identity as "Name (Package) Version", omitting an empty package.
func (id Identity) String() string {
	if id.Package == "" {
		return id.Name + " " + id.Version
	}
	return id.Name + " (" + id.Package + ") " + id.Version
}

// parseVersion parses a System.Version-style "a.b[.c[.d]]" string. Missing components are -1,
// so that, as in .NET, 1.0 < 1.0.0 < 1.0.0.0.
func parseVersion(s string) ([4]int, bool) {
	v := [4]int{-1, -1, -1, -1}
	parts := strings.Split(s, ".")
	if len(parts) < 2 || len(parts) > 4 {
		return v, false
	}
	for i, p := range parts {
		if p == "" || len(p) > 9 {
			return v, false
		}
		for _, c := range p {
			if c < '0' || c > '9' {
				return v, false
			}
		}
		n, err := strconv.Atoi(p)
		if err != nil {
			return v, false
		}
		v[i] = n
	}
	return v, true
}

// CompareVersions compares two System.Version-style strings numerically component by component
// ("10.0.0.0" > "9.1.0.0"). It returns -1, 0 or +1. Unparsable versions sort before valid ones
// and are compared as strings among themselves.
func CompareVersions(a, b string) int {
	va, oka := parseVersion(a)
	vb, okb := parseVersion(b)
	switch {
	case !oka && !okb:
		return strings.Compare(a, b)
	case !oka:
		return -1
	case !okb:
		return 1
	}
	for i := range va {
		if va[i] != vb[i] {
			if va[i] < vb[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

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
)

// activity is one node of a definition's activity tree.
type activity struct {
	Kind        Kind
	ID          string
	DisplayName string
	Line, Col   int
	parent      *activity // nearest enclosing node (may be a PickBranch)

	Children []*activity // Sequence and Parallel: activities; Pick: PickBranch nodes
	Body     *activity   // While, DoWhile, CancellationScope
	Then     *activity   // If
	Else     *activity   // If
	Trigger  *activity   // PickBranch
	Action   *activity   // PickBranch
	Try      *activity   // TryCatch
	Catches  []catchClause
	Finally  *activity // TryCatch
	Handler  *activity // CancellationScope

	Condition *Expr // If, While, DoWhile; Parallel CompletionCondition (optional)
	Value     *Expr // Assign
	Text      *Expr // WriteLine
	Duration  *Expr // Delay
	Message   *Expr // Throw (optional)
	Reason    *Expr // TerminateWorkflow (optional)
	To        string
	Bookmark  string
	Result    string
	Exception string // Throw
}

type catchClause struct {
	Exception string // "" catches everything
	Body      *activity
}

func (c catchClause) matches(name string) bool { return c.Exception == "" || c.Exception == name }

// runParent returns the nearest ancestor that is instantiated at run time (skips PickBranch).
func (a *activity) runParent() *activity {
	p := a.parent
	for p != nil && p.Kind == KindPickBranch {
		p = p.parent
	}
	return p
}

// Definition is a parsed, validated workflow definition. It is immutable and safe to share.
type Definition struct {
	Identity      Identity
	UpdatableFrom []Identity
	Arguments     []Argument
	Variables     []Variable
	File          string // where it was loaded from (for messages)

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

// Activities lists the definition's activities in document order (PickBranch nodes included).
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
