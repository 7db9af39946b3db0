package engine

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/expr-lang/expr/types"

	"github.com/wimp-project/wimp/workflow"
)

// DefinitionError is an invalid definition: where and what.
type DefinitionError struct {
	File         string
	Line, Column int
	Msg          string
}

func (e *DefinitionError) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
}

const maxDepth = 128

// xnode is a raw XML element with its start position.
type xnode struct {
	name      string
	attrs     []xml.Attr
	kids      []*xnode
	line, col int
}

type parser struct {
	types catalog // Go activity types (custom activities, HttpRequest)
	file  string
	env   types.Map
	def   *Definition
	scope map[string]bool // loop variables (ForEach Variable) in scope
}

func (p *parser) errAt(n *xnode, format string, args ...any) error {
	return &DefinitionError{File: p.file, Line: n.line, Column: n.col, Msg: fmt.Sprintf(format, args...)}
}

// errAtNode reports an error at an already parsed activity's element.
func (p *parser) errAtNode(a *activity, format string, args ...any) error {
	return &DefinitionError{File: p.file, Line: a.Line, Column: a.Col, Msg: fmt.Sprintf(format, args...)}
}

// ParseDefinition parses and validates a workflow definition, which may use the built-in Go
// activities (HttpRequest) and types. Errors are *DefinitionError (or, for invalid types, an
// error naming the type).
func ParseDefinition(file string, data []byte, types ...*ActivityType) (*Definition, error) {
	c, err := newCatalog(types)
	if err != nil {
		return nil, err
	}
	return parseDefinition(file, data, c)
}

func parseDefinition(file string, data []byte, types catalog) (*Definition, error) {
	root, err := readTree(file, data)
	if err != nil {
		return nil, err
	}
	p := &parser{types: types, file: file, def: &Definition{File: file, byID: map[string]*activity{}}, scope: map[string]bool{}}
	if err := p.workflow(root); err != nil {
		return nil, err
	}
	return p.def, nil
}

func readTree(file string, data []byte) (*xnode, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	var stack []*xnode
	var root *xnode
	fail := func(line, col int, format string, args ...any) error {
		return &DefinitionError{File: file, Line: line, Column: col, Msg: fmt.Sprintf(format, args...)}
	}
	for first := true; ; first = false {
		line, col := dec.InputPos()
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			// Point at the start of the offending token when the error is on its line.
			l, c := dec.InputPos()
			msg := err.Error()
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				msg = se.Msg
				switch se.Line {
				case line:
					l, c = line, col
				case l:
				default:
					l, c = se.Line, 1
				}
			}
			return nil, fail(l, c, "XML: %s", msg)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) >= maxDepth {
				return nil, fail(line, col, "elements nested deeper than %d", maxDepth)
			}
			n := &xnode{name: t.Name.Local, attrs: slices.Clone(t.Attr), line: line, col: col}
			if len(stack) == 0 {
				if root != nil {
					return nil, fail(line, col, "more than one root element")
				}
				root = n
			} else {
				parent := stack[len(stack)-1]
				parent.kids = append(parent.kids, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if s := strings.TrimSpace(string(t)); s != "" {
				if len(s) > 40 {
					s = s[:40] + "..."
				}
				return nil, fail(line, col, "unexpected text %q (values go in attributes)", s)
			}
		case xml.Comment:
		case xml.ProcInst:
			if t.Target != "xml" || !first {
				return nil, fail(line, col, "processing instruction <?%s?> is not allowed", t.Target)
			}
		case xml.Directive:
			return nil, fail(line, col, "DTDs and <!...> directives are not allowed")
		}
	}
	if root == nil {
		l, c := dec.InputPos()
		return nil, fail(l, c, "no root element: expected <Workflow>")
	}
	return root, nil
}

// attrs validates n's attributes against the allowed names and returns them by name.
func (p *parser) attrs(n *xnode, allowed ...string) (map[string]string, error) {
	m := map[string]string{}
	for _, a := range n.attrs {
		if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") ||
			a.Name.Space == "http://www.w3.org/XML/1998/namespace" {
			continue
		}
		name := a.Name.Local
		if a.Name.Space != "" || !slices.Contains(allowed, name) {
			if a.Name.Space != "" {
				name = a.Name.Space + ":" + name
			}
			if len(allowed) == 0 {
				return nil, p.errAt(n, "unknown attribute %s on <%s> (it takes no attributes)", name, n.name)
			}
			return nil, p.errAt(n, "unknown attribute %s on <%s> (allowed: %s)", name, n.name, strings.Join(allowed, ", "))
		}
		if _, dup := m[name]; dup {
			return nil, p.errAt(n, "duplicate attribute %s on <%s>", name, n.name)
		}
		m[name] = a.Value
	}
	return m, nil
}

func (p *parser) require(n *xnode, m map[string]string, names ...string) error {
	for _, name := range names {
		if strings.TrimSpace(m[name]) == "" {
			return p.errAt(n, "missing required attribute %s on <%s>", name, n.name)
		}
	}
	return nil
}

func (p *parser) identity(n *xnode, m map[string]string) (workflow.Identity, error) {
	if err := p.require(n, m, "Name", "Version"); err != nil {
		return workflow.Identity{}, err
	}
	id := workflow.Identity{Name: strings.TrimSpace(m["Name"]), Package: strings.TrimSpace(m["Package"]), Version: strings.TrimSpace(m["Version"])}
	if _, err := workflow.ParseVersion(id.Version); err != nil {
		return workflow.Identity{}, p.errAt(n, "bad Version: %v", err)
	}
	return id, nil
}

func (p *parser) workflow(n *xnode) error {
	if n.name != "Workflow" {
		return p.errAt(n, "root element must be <Workflow>, not <%s>", n.name)
	}
	m, err := p.attrs(n, "Name", "Package", "Version", "DisplayName", "MaxWorkItems", "CorrelationKey", "Tracking")
	if err != nil {
		return err
	}
	if p.def.Identity, err = p.identity(n, m); err != nil {
		return err
	}
	if v, ok := m["MaxWorkItems"]; ok {
		n64, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
		if err != nil || n64 < 1 {
			return p.errAt(n, "bad MaxWorkItems %q: want a positive integer", v)
		}
		p.def.MaxWorkItems = int(n64)
	}
	if v, ok := m["Tracking"]; ok {
		prof, err := workflow.ParseTrackingProfile(v)
		if err != nil {
			return p.errAt(n, "bad Tracking: %v", err)
		}
		p.def.Tracking = &prof
	}
	var body *xnode
	seen := map[string]bool{}
	names := map[string]bool{}
	for _, k := range n.kids {
		switch k.name {
		case "UpdatableFrom":
			m, err := p.attrs(k, "Name", "Package", "Version")
			if err != nil {
				return err
			}
			id, err := p.identity(k, m)
			if err != nil {
				return err
			}
			p.def.UpdatableFrom = append(p.def.UpdatableFrom, id)
		case "Promote":
			// Read by parseCorrelation, once the names are known.
		case "Arguments", "Variables":
			if seen[k.name] {
				return p.errAt(k, "duplicate <%s>", k.name)
			}
			seen[k.name] = true
			if _, err := p.attrs(k); err != nil {
				return err
			}
			if err := p.declarations(k, names); err != nil {
				return err
			}
		default:
			if !p.knownActivity(k.name) || Kind(k.name).structural() {
				return p.errAt(k, "unknown element <%s> in <Workflow> (expected UpdatableFrom, Arguments, Variables, Promote or one activity)", k.name)
			}
			if body != nil {
				return p.errAt(k, "<Workflow> has more than one root activity (wrap them in a <Sequence>)")
			}
			body = k
		}
	}
	if body == nil {
		return p.errAt(n, "<Workflow> has no activity")
	}
	p.env = compileEnv(p.def.Arguments, p.def.Variables)
	if err := p.parseCorrelation(n, m); err != nil {
		return err
	}
	// Defaults are compiled now that every name is known.
	for _, k := range n.kids {
		if k.name != "Arguments" && k.name != "Variables" {
			continue
		}
		for _, d := range k.kids {
			m, _ := p.attrs(d, "Name", "Type", "Required", "Default")
			src, ok := m["Default"]
			if !ok {
				continue
			}
			name := strings.TrimSpace(m["Name"])
			t := Type(strings.TrimSpace(m["Type"]))
			body := src
			if isBracketed(src) {
				body = unbracket(src)
			}
			prog, err := compileSource(body, p.env, t)
			if err != nil {
				return p.errAt(d, "Default of %s: %v", name, err)
			}
			e := &Expr{Source: src, prog: prog}
			if k.name == "Arguments" {
				for i := range p.def.Arguments {
					if p.def.Arguments[i].Name == name {
						p.def.Arguments[i].Default = e
					}
				}
			} else {
				for i := range p.def.Variables {
					if p.def.Variables[i].Name == name {
						p.def.Variables[i].Default = e
					}
				}
			}
		}
	}
	root, err := p.activity(body, nil, "1")
	if err != nil {
		return err
	}
	p.def.root = root
	return nil
}

func (p *parser) declarations(n *xnode, names map[string]bool) error {
	child := "In"
	if n.name == "Variables" {
		child = "Variable"
	}
	for _, d := range n.kids {
		if d.name != child {
			return p.errAt(d, "unknown element <%s> in <%s> (expected <%s>)", d.name, n.name, child)
		}
		if len(d.kids) > 0 {
			return p.errAt(d.kids[0], "<%s> takes no child elements", child)
		}
		allowed := []string{"Name", "Type", "Default"}
		if child == "In" {
			allowed = append(allowed, "Required")
		}
		m, err := p.attrs(d, allowed...)
		if err != nil {
			return err
		}
		if err := p.require(d, m, "Name", "Type"); err != nil {
			return err
		}
		name := strings.TrimSpace(m["Name"])
		if !validName(name) {
			return p.errAt(d, "bad name %q: want an identifier (letters, digits, _) that is not a reserved word", name)
		}
		if names[name] {
			return p.errAt(d, "duplicate argument or variable name %q", name)
		}
		names[name] = true
		t := Type(strings.TrimSpace(m["Type"]))
		if !t.valid() {
			return p.errAt(d, "bad Type %q for %s: want Number, String, Boolean or Object", m["Type"], name)
		}
		if child == "In" {
			req := false
			if r, ok := m["Required"]; ok {
				b, err := strconv.ParseBool(strings.TrimSpace(r))
				if err != nil {
					return p.errAt(d, "bad Required %q: want true or false", r)
				}
				req = b
			}
			p.def.Arguments = append(p.def.Arguments, Argument{Name: name, Type: t, Required: req})
		} else {
			p.def.Variables = append(p.def.Variables, Variable{Name: name, Type: t})
		}
	}
	return nil
}

// activityAttrs lists each activity's own attributes (Id and DisplayName are common).
var activityAttrs = map[Kind][]string{
	KindSequence:          nil,
	KindIf:                {"Condition"},
	KindWhile:             {"Condition"},
	KindDoWhile:           {"Condition"},
	KindAssign:            {"To", "Value"},
	KindWriteLine:         {"Text"},
	KindDelay:             {"Duration"},
	KindReceive:           {"Bookmark", "Result"},
	KindPick:              nil,
	KindPickBranch:        nil,
	KindParallel:          {"CompletionCondition"},
	KindTryCatch:          nil,
	KindThrow:             {"Exception", "Message"},
	KindCancellationScope: nil,
	KindTerminateWorkflow: {"Reason"},
	KindPersist:           nil,
	KindStateMachine:      {"InitialState"},
	KindState:             nil,
	KindFinalState:        nil,
	KindTransition:        {"To", "Condition"},
	KindForEach:           {"Values", "Variable"},
	KindParallelForEach:   {"Values", "Variable", "CompletionCondition"},
	KindInvokeWorkflow:    {"Definition", "Version", "Input", "Result"},
}

// properties lists each activity's property elements (written <Prop> or <Kind.Prop>).
var properties = map[Kind][]string{
	KindIf:                {"Then", "Else"},
	KindWhile:             {"Body"},
	KindDoWhile:           {"Body"},
	KindPickBranch:        {"Trigger", "Action"},
	KindTryCatch:          {"Try", "Catches", "Catch", "Finally"},
	KindCancellationScope: {"Body", "CancellationHandler"},
	KindState:             {"Entry", "Exit"},
	KindFinalState:        {"Entry"},
	KindTransition:        {"Trigger", "Action"},
	KindForEach:           {"Body"},
	KindParallelForEach:   {"Body"},
}

func (p *parser) exprAttr(n *xnode, m map[string]string, name string, want Type, literalOK bool) (*Expr, error) {
	src, ok := m[name]
	if !ok {
		return nil, nil
	}
	if isBracketed(src) {
		prog, err := compileSource(unbracket(src), p.env, want)
		if err != nil {
			return nil, p.errAt(n, "%s: %v", name, err)
		}
		return &Expr{Source: src, prog: prog}, nil
	}
	if !literalOK {
		return nil, p.errAt(n, "%s must be an expression in [...], got %q", name, src)
	}
	t := want
	if t == "" {
		t = String
	}
	v, err := parseLiteral(src, t)
	if err != nil {
		return nil, p.errAt(n, "%s: %v (write an expression as [...])", name, err)
	}
	return &Expr{Source: src, literal: true, lit: v}, nil
}

func (p *parser) varRef(n *xnode, attr, name string) (Variable, error) {
	name = strings.TrimSpace(name)
	v, ok := p.def.variable(name)
	if !ok && p.scope[name] {
		return Variable{}, p.errAt(n, "%s=%q names a loop variable; loop variables are read-only, declare a variable", attr, name)
	}
	if !ok {
		if _, isArg := p.def.argument(name); isArg {
			return Variable{}, p.errAt(n, "%s=%q names an argument; arguments are read-only, declare a variable", attr, name)
		}
		return Variable{}, p.errAt(n, "%s=%q: unknown variable", attr, name)
	}
	return v, nil
}

func (p *parser) activity(n *xnode, parent *activity, autoID string) (*activity, error) {
	kind := Kind(n.name)
	own, ok := activityAttrs[kind]
	ext := p.types[n.name]
	if !ok && ext == nil {
		return nil, p.errAt(n, "unknown element <%s>", n.name)
	}
	if ext != nil {
		own = ext.attrNames()
	}
	m, err := p.attrs(n, append([]string{"Id", "DisplayName"}, own...)...)
	if err != nil {
		return nil, err
	}
	a := &activity{Kind: kind, Line: n.line, Col: n.col, parent: parent, DisplayName: m["DisplayName"], ID: autoID}
	if id, ok := m["Id"]; ok {
		a.ID = strings.TrimSpace(id)
		if a.ID == "" {
			return nil, p.errAt(n, "empty Id on <%s>", n.name)
		}
	} else if kind == KindState || kind == KindFinalState {
		return nil, p.errAt(n, "<%s> needs an Id: it is the state's name, which InitialState and Transition To refer to", n.name)
	}
	if prev, dup := p.def.byID[a.ID]; dup {
		return nil, p.errAt(n, "duplicate activity id %q (also used by the <%s> at line %d)", a.ID, prev.Kind, prev.Line)
	}
	p.def.byID[a.ID] = a
	p.def.order = append(p.def.order, a)

	// Attributes.
	switch kind {
	case KindIf, KindWhile, KindDoWhile:
		if err := p.require(n, m, "Condition"); err != nil {
			return nil, err
		}
		if a.Condition, err = p.exprAttr(n, m, "Condition", Boolean, true); err != nil {
			return nil, err
		}
	case KindParallel:
		if a.Condition, err = p.exprAttr(n, m, "CompletionCondition", Boolean, true); err != nil {
			return nil, err
		}
	case KindAssign:
		if err := p.require(n, m, "To"); err != nil {
			return nil, err
		}
		if _, ok := m["Value"]; !ok {
			return nil, p.errAt(n, "missing required attribute Value on <Assign>")
		}
		v, err := p.varRef(n, "To", m["To"])
		if err != nil {
			return nil, err
		}
		a.To = v.Name
		if a.Value, err = p.exprAttr(n, m, "Value", v.Type, true); err != nil {
			return nil, err
		}
	case KindWriteLine:
		if _, ok := m["Text"]; !ok {
			return nil, p.errAt(n, "missing required attribute Text on <WriteLine>")
		}
		if a.Text, err = p.exprAttr(n, m, "Text", "", true); err != nil {
			return nil, err
		}
	case KindDelay:
		if err := p.require(n, m, "Duration"); err != nil {
			return nil, err
		}
		if a.Duration, err = p.exprAttr(n, m, "Duration", "", true); err != nil {
			return nil, err
		}
		if a.Duration.literal {
			if _, err := toDuration(a.Duration.lit); err != nil {
				return nil, p.errAt(n, "Duration: %v", err)
			}
		}
	case KindReceive:
		if err := p.require(n, m, "Bookmark"); err != nil {
			return nil, err
		}
		if b := strings.TrimSpace(m["Bookmark"]); isBracketed(b) {
			if a.BookmarkExpr, err = p.exprAttr(n, m, "Bookmark", String, false); err != nil {
				return nil, err
			}
		} else {
			a.Bookmark = b
		}
		if r, ok := m["Result"]; ok {
			v, err := p.varRef(n, "Result", r)
			if err != nil {
				return nil, err
			}
			a.Result = v.Name
		}
	case KindThrow:
		if err := p.require(n, m, "Exception"); err != nil {
			return nil, err
		}
		a.Exception = strings.TrimSpace(m["Exception"])
		if !validExceptionName(a.Exception) {
			return nil, p.errAt(n, "bad Exception name %q: want an identifier such as PaymentFailed", a.Exception)
		}
		if a.Message, err = p.exprAttr(n, m, "Message", "", true); err != nil {
			return nil, err
		}
	case KindTerminateWorkflow:
		if a.Reason, err = p.exprAttr(n, m, "Reason", "", true); err != nil {
			return nil, err
		}
	case KindStateMachine:
		if err := p.require(n, m, "InitialState"); err != nil {
			return nil, err
		}
		a.InitialState = strings.TrimSpace(m["InitialState"])
	case KindTransition:
		if err := p.require(n, m, "To"); err != nil {
			return nil, err
		}
		a.To = strings.TrimSpace(m["To"])
		if a.Condition, err = p.exprAttr(n, m, "Condition", Boolean, true); err != nil {
			return nil, err
		}
	case KindForEach, KindParallelForEach:
		if err := p.forEachAttrs(n, m, a); err != nil {
			return nil, err
		}
		if a.Variable != "" {
			// The body sees the loop variable; the activity's own attributes do not.
			env, scope := p.env, p.scope
			p.env, p.scope = maps.Clone(env), maps.Clone(scope)
			p.env[a.Variable] = exprType(Object)
			p.scope[a.Variable] = true
			defer func() { p.env, p.scope = env, scope }()
		}
	case KindInvokeWorkflow:
		if err := p.invokeAttrs(n, m, a); err != nil {
			return nil, err
		}
	default:
		if ext != nil {
			if err := p.externalAttrs(n, m, a, ext); err != nil {
				return nil, err
			}
		}
	}

	// Children.
	seq := 0
	child := func(k *xnode) (*activity, error) {
		seq++
		return p.activity(k, a, a.ID+"."+strconv.Itoa(seq))
	}
	// single parses a property element holding zero or one activity.
	single := func(k *xnode) (*activity, error) {
		if _, err := p.attrs(k); err != nil {
			return nil, err
		}
		switch len(k.kids) {
		case 0:
			return nil, nil
		case 1:
			c := k.kids[0]
			if want, ok := structuralParent[Kind(c.name)]; ok {
				return nil, p.errAt(c, "<%s> is only allowed in <%s>", c.name, want)
			}
			return child(c)
		}
		return nil, p.errAt(k.kids[1], "<%s> holds one activity (wrap several in a <Sequence>)", k.name)
	}
	setOnce := func(k *xnode, slot **activity, set *bool, what string) error {
		if *set {
			return p.errAt(k, "<%s> has more than one %s", n.name, what)
		}
		*set = true
		var err error
		*slot, err = single(k)
		return err
	}
	var bodySet, thenSet, elseSet, trigSet, actSet, trySet, finSet, handSet, entrySet, exitSet bool
	for _, k := range n.kids {
		if kind == KindFinalState && (k.name == "Exit" || k.name == string(KindTransition)) {
			return nil, p.errAt(k, "<FinalState> takes only an <Entry> (no Exit, no Transition): reaching it completes the StateMachine")
		}
		prop, isProp := "", false
		if rest, ok := strings.CutPrefix(k.name, n.name+"."); ok {
			prop, isProp = rest, true
			if !slices.Contains(properties[kind], prop) {
				return nil, p.errAt(k, "<%s> has no property %s", n.name, prop)
			}
		} else if slices.Contains(properties[kind], k.name) {
			prop, isProp = k.name, true
		}
		if isProp {
			var err error
			switch prop {
			case "Then":
				err = setOnce(k, &a.Then, &thenSet, "Then")
			case "Else":
				err = setOnce(k, &a.Else, &elseSet, "Else")
			case "Body":
				err = setOnce(k, &a.Body, &bodySet, "body")
			case "Trigger":
				if kind == KindTransition {
					err = p.transitionTrigger(k, a, &trigSet, single)
				} else {
					err = setOnce(k, &a.Trigger, &trigSet, "Trigger")
				}
			case "Entry":
				err = setOnce(k, &a.Entry, &entrySet, "Entry")
			case "Exit":
				err = setOnce(k, &a.Exit, &exitSet, "Exit")
			case "Action":
				err = setOnce(k, &a.Action, &actSet, "Action")
			case "Try":
				err = setOnce(k, &a.Try, &trySet, "Try")
			case "Finally":
				err = setOnce(k, &a.Finally, &finSet, "Finally")
			case "CancellationHandler":
				err = setOnce(k, &a.Handler, &handSet, "CancellationHandler")
			case "Catches":
				if _, err := p.attrs(k); err != nil {
					return nil, err
				}
				for _, c := range k.kids {
					if c.name != "Catch" {
						return nil, p.errAt(c, "unknown element <%s> in <%s> (expected <Catch>)", c.name, k.name)
					}
					if err := p.catch(c, a, single); err != nil {
						return nil, err
					}
				}
			case "Catch":
				err = p.catch(k, a, single)
			}
			if err != nil {
				return nil, err
			}
			continue
		}
		if !p.knownActivity(k.name) {
			return nil, p.errAt(k, "unknown element <%s> in <%s>", k.name, n.name)
		}
		switch kind {
		case KindSequence, KindParallel:
			if want, ok := structuralParent[Kind(k.name)]; ok {
				return nil, p.errAt(k, "<%s> is only allowed in <%s>", k.name, want)
			}
			c, err := child(k)
			if err != nil {
				return nil, err
			}
			a.Children = append(a.Children, c)
		case KindPick:
			if k.name != string(KindPickBranch) {
				return nil, p.errAt(k, "<Pick> holds <PickBranch> elements, not <%s>", k.name)
			}
			c, err := child(k)
			if err != nil {
				return nil, err
			}
			a.Children = append(a.Children, c)
		case KindStateMachine:
			if k.name != string(KindState) && k.name != string(KindFinalState) {
				return nil, p.errAt(k, "<StateMachine> holds <State> and <FinalState> elements, not <%s>", k.name)
			}
			c, err := child(k)
			if err != nil {
				return nil, err
			}
			a.Children = append(a.Children, c)
		case KindState:
			if k.name != string(KindTransition) {
				return nil, p.errAt(k, "<State> holds <Transition> elements (and its <Entry> and <Exit>), not <%s>", k.name)
			}
			c, err := child(k)
			if err != nil {
				return nil, err
			}
			a.Children = append(a.Children, c)
		case KindTransition:
			return nil, p.errAt(k, "<Transition> takes its activities in <Trigger> and <Action>, not as a direct <%s>", k.name)
		case KindWhile, KindDoWhile, KindCancellationScope, KindPickBranch, KindForEach, KindParallelForEach:
			if want, ok := structuralParent[Kind(k.name)]; ok {
				return nil, p.errAt(k, "<%s> is only allowed in <%s>", k.name, want)
			}
			slot, set, what := &a.Body, &bodySet, "body"
			if kind == KindPickBranch {
				slot, set, what = &a.Action, &actSet, "Action"
			}
			if *set {
				return nil, p.errAt(k, "<%s> has more than one %s (wrap several activities in a <Sequence>)", n.name, what)
			}
			*set = true
			c, err := child(k)
			if err != nil {
				return nil, err
			}
			*slot = c
		default:
			return nil, p.errAt(k, "<%s> cannot contain <%s>", n.name, k.name)
		}
	}
	switch kind {
	case KindPickBranch:
		if a.Trigger == nil {
			return nil, p.errAt(n, "<PickBranch> needs a <Trigger> activity")
		}
	case KindState:
		if err := p.checkState(n, a); err != nil {
			return nil, err
		}
	case KindStateMachine:
		if err := p.checkStateMachine(n, a); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// forEachAttrs reads the attributes of ForEach and ParallelForEach.
func (p *parser) forEachAttrs(n *xnode, m map[string]string, a *activity) error {
	if _, ok := m["Values"]; !ok {
		return p.errAt(n, "missing required attribute Values on <%s>", n.name)
	}
	var err error
	// A JSON array would read as an expression anyway: Values is always one ("[['a', 'b']]").
	if a.Values, err = p.exprAttr(n, m, "Values", Object, false); err != nil {
		return err
	}
	if t := a.Values.prog.Node().Type(); t != nil {
		switch t.Kind() {
		case reflect.Slice, reflect.Array, reflect.Interface:
		default:
			return p.errAt(n, "Values: %s yields a %s, not a list", a.Values.Source, t)
		}
	}
	if v, ok := m["Variable"]; ok {
		name := strings.TrimSpace(v)
		switch {
		case !validName(name):
			return p.errAt(n, "bad Variable %q: want an identifier (letters, digits, _) that is not a reserved word", v)
		case p.scope[name]:
			return p.errAt(n, "Variable %q is already the loop variable of an enclosing ForEach", name)
		}
		if _, ok := p.def.variable(name); ok {
			return p.errAt(n, "Variable %q is already a workflow variable; a loop variable needs a name of its own", name)
		}
		if _, ok := p.def.argument(name); ok {
			return p.errAt(n, "Variable %q is already an argument; a loop variable needs a name of its own", name)
		}
		a.Variable = name
	}
	if a.Kind == KindParallelForEach {
		if a.Condition, err = p.exprAttr(n, m, "CompletionCondition", Boolean, true); err != nil {
			return err
		}
	}
	return nil
}

// transitionTrigger reads a Transition's <Trigger>: one activity, or Ref="id" naming the trigger
// activity of an earlier transition of the same state (resolved by checkState).
func (p *parser) transitionTrigger(k *xnode, a *activity, set *bool, single func(*xnode) (*activity, error)) error {
	if *set {
		return p.errAt(k, "<Transition> has more than one Trigger")
	}
	*set = true
	m, err := p.attrs(k, "Ref")
	if err != nil {
		return err
	}
	ref, ok := m["Ref"]
	if !ok {
		a.Trigger, err = single(k)
		return err
	}
	a.TriggerRef = strings.TrimSpace(ref)
	if a.TriggerRef == "" {
		return p.errAt(k, "empty Ref on <Trigger>")
	}
	if len(k.kids) > 0 {
		return p.errAt(k.kids[0], "<Trigger Ref=%q> shares another transition's trigger and holds no activity", a.TriggerRef)
	}
	return nil
}

// checkState validates a State's transitions once they are parsed: shared triggers are
// resolved, and no transition may be impossible to take.
func (p *parser) checkState(n *xnode, st *activity) error {
	if len(st.Children) == 0 {
		return p.errAt(n, "<State> %q has no <Transition> (a state without a way out is a <FinalState>)", st.ID)
	}
	for i, t := range st.Children {
		if t.TriggerRef == "" {
			continue
		}
		for _, prev := range st.Children[:i] {
			if prev.TriggerRef == "" && prev.Trigger != nil && prev.Trigger.ID == t.TriggerRef {
				t.Trigger = prev.Trigger
			}
		}
		if t.Trigger == nil {
			return p.errAtNode(t, "Trigger Ref=%q: no earlier <Transition> of state %q has a trigger activity with that Id", t.TriggerRef, st.ID)
		}
	}
	for i, t := range st.Children {
		if t.Condition != nil {
			continue
		}
		for _, later := range st.Children[i+1:] {
			if later.Trigger == t.Trigger {
				what := "sharing its trigger"
				if t.Trigger == nil {
					what = "also without a trigger"
				}
				return p.errAtNode(later, "<Transition> %q can never be taken: the earlier transition %q, %s, has no Condition", later.ID, t.ID, what)
			}
		}
		if t.Trigger == nil {
			for _, other := range st.Children {
				if other.Trigger != nil {
					return p.errAtNode(other, "<Transition> %q can never be taken: transition %q has neither Trigger nor Condition, so it is taken as soon as the Entry completes", other.ID, t.ID)
				}
			}
		}
	}
	return nil
}

// checkStateMachine validates InitialState and every Transition's To.
func (p *parser) checkStateMachine(n *xnode, sm *activity) error {
	if len(sm.Children) == 0 {
		return p.errAt(n, "<StateMachine> has no <State>")
	}
	init := sm.child(sm.InitialState)
	switch {
	case init == nil:
		return p.errAt(n, "InitialState=%q: no <State> with that Id in this <StateMachine>", sm.InitialState)
	case init.Kind == KindFinalState:
		return p.errAt(n, "InitialState=%q is a <FinalState>; the initial state must be a <State>", sm.InitialState)
	}
	for _, st := range sm.Children {
		for _, t := range st.Children {
			if sm.child(t.To) == nil {
				return p.errAtNode(t, "To=%q: no <State> or <FinalState> with that Id in <StateMachine> %q", t.To, sm.ID)
			}
		}
	}
	return nil
}

func (p *parser) catch(c *xnode, a *activity, single func(*xnode) (*activity, error)) error {
	m, err := p.attrs(c, "Exception")
	if err != nil {
		return err
	}
	name := strings.TrimSpace(m["Exception"])
	if name == "*" {
		name = ""
	}
	if name != "" && !validExceptionName(name) {
		return p.errAt(c, "bad Exception name %q", name)
	}
	for _, prev := range a.Catches {
		if prev.Exception == name {
			return p.errAt(c, "duplicate <Catch> for %q", m["Exception"])
		}
	}
	c2 := *c
	c2.attrs = nil
	body, err := single(&c2)
	if err != nil {
		return err
	}
	a.Catches = append(a.Catches, catchClause{Exception: name, Body: body})
	return nil
}

// knownActivity reports whether an element name is an activity: built in or a Go activity type.
func (p *parser) knownActivity(name string) bool {
	_, builtin := activityAttrs[Kind(name)]
	return builtin || p.types[name] != nil
}

func validExceptionName(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	for _, part := range strings.Split(s, ".") {
		if !isIdentifier(part) {
			return false
		}
	}
	return true
}
