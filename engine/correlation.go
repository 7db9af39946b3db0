package engine

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// Promotion is a promoted property a definition declares (<Promote Name="amount"
// Value="[amount]"/>): a value the host stores, as text, in an indexed column on every persist,
// so that instances can be found by it (WF4's InstancePromotedProperties).
type Promotion struct {
	Name  string
	Value *Expr
}

// parseCorrelation reads the Workflow's CorrelationKey attribute and its <Promote> children,
// once every argument and variable is known (p.env).
func (p *parser) parseCorrelation(n *xnode, m map[string]string) error {
	key, err := p.exprAttr(n, m, "CorrelationKey", String, false)
	if err != nil {
		return err
	}
	p.def.CorrelationKey = key
	seen := map[string]bool{}
	for _, k := range n.kids {
		if k.name != "Promote" {
			continue
		}
		if len(k.kids) > 0 {
			return p.errAt(k.kids[0], "<Promote> takes no child elements")
		}
		pm, err := p.attrs(k, "Name", "Value")
		if err != nil {
			return err
		}
		if err := p.require(k, pm, "Name", "Value"); err != nil {
			return err
		}
		name := pm["Name"]
		if !validName(name) {
			return p.errAt(k, "bad promoted property name %q: want an identifier (letters, digits, _)", name)
		}
		if seen[name] {
			return p.errAt(k, "property %q is promoted twice", name)
		}
		seen[name] = true
		v, err := p.exprAttr(k, pm, "Value", "", false)
		if err != nil {
			return err
		}
		p.def.Promoted = append(p.def.Promoted, Promotion{Name: name, Value: v})
	}
	return nil
}

// startCorrelation evaluates the definition's correlation key over the started instance's
// arguments and variables: a failing expression or an empty key refuses the creation.
func (in *Instance) startCorrelation() error {
	if in.def.CorrelationKey == nil {
		return nil
	}
	v, exc := in.eval(in.def.CorrelationKey)
	if exc != nil {
		return fmt.Errorf("%w: CorrelationKey: %s", ErrInvalidInput, exc.Message)
	}
	key, _ := v.(string)
	if key == "" {
		return fmt.Errorf("%w: CorrelationKey %s is empty", ErrInvalidInput, in.def.CorrelationKey.Source)
	}
	in.correlationKey = key
	return nil
}

// CorrelationKey is the key the definition's CorrelationKey computed when the instance started
// ("" when it declares none, and for a restored instance: the host keeps the key).
func (in *Instance) CorrelationKey() string { return in.correlationKey }

// PromotedProperties evaluates the definition's promoted properties now, as text: a String as
// it is, a Number in its shortest decimal form, a Boolean as true/false, a list or object as
// JSON. A property whose expression fails or is null is left out (promoting is observation; it
// never faults the workflow). Nil when the definition promotes none.
func (in *Instance) PromotedProperties() map[string]string {
	if len(in.def.Promoted) == 0 {
		return nil
	}
	out := make(map[string]string, len(in.def.Promoted))
	for _, pr := range in.def.Promoted {
		v, exc := in.eval(pr.Value)
		if exc != nil || v == nil {
			continue
		}
		switch x := v.(type) {
		case string:
			out[pr.Name] = x
		case float64:
			out[pr.Name] = strconv.FormatFloat(x, 'f', -1, 64)
		case int:
			out[pr.Name] = strconv.Itoa(x)
		case bool:
			out[pr.Name] = strconv.FormatBool(x)
		default:
			b, err := json.Marshal(x)
			if err != nil {
				continue
			}
			out[pr.Name] = string(b)
		}
	}
	return out
}
