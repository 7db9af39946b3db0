package main

import (
	"context"
	"encoding/json"
	"sort"
	"strings"

	"github.com/wimp-project/wimp/engine"
	"github.com/wimp-project/wimp/hosting"
)

// inputs converts create's --input flags to the request's inputs: KEY:=JSON is the JSON value as
// it is; KEY=VALUE is VALUE converted to the type the definition declares for KEY, by the
// engine's own rule for textual inputs (engine.Definition.ParseInputs). The definition is the
// one the server would pick (engine.Registry.Lookup over the server's GetDefinitions); when the
// server has none by that name and version, the values go as strings and the server's fault
// says why.
func (c *client) inputs(ctx context.Context, name, version string, flags []string) (map[string]any, error) {
	out := map[string]any{}
	text := map[string]string{} // KEY=VALUE, typed below
	for _, kv := range flags {
		k, v, ok := strings.Cut(kv, "=")
		k, raw := strings.CutSuffix(k, ":")
		if !ok || k == "" {
			return nil, usagef("--input %q is neither KEY=VALUE nor KEY:=JSON", kv)
		}
		_, dupRaw := out[k]
		if _, dupText := text[k]; dupRaw || dupText {
			return nil, usagef("--input %s is given twice", k)
		}
		switch {
		case !raw:
			text[k] = v
		case json.Valid([]byte(v)):
			out[k] = json.RawMessage(v)
		default:
			return nil, usagef("--input %s:=%s: the value is not JSON", k, v)
		}
	}
	if len(text) == 0 {
		return out, nil
	}
	defs, err := c.hosting.Definitions(ctx)
	if err != nil {
		return nil, err
	}
	def, err := lookupDefinition(defs, name, version)
	if err != nil {
		for k, v := range text {
			out[k] = v
		}
		return out, nil
	}
	keys := make([]string, 0, len(text))
	for k := range text {
		keys = append(keys, k)
	}
	sort.Strings(keys) // the first bad one in a stable order
	for _, k := range keys {
		typed, err := def.ParseInputs(map[string]string{k: text[k]})
		if err != nil {
			msg := strings.TrimPrefix(err.Error(), engine.ErrInvalidInput.Error()+": ")
			return nil, usagef("--input %s=%s: %s (arguments: %s)", k, text[k], msg, argumentList(def))
		}
		out[k] = typed[k]
	}
	return out, nil
}

// lookupDefinition finds among defs the definition the server picks for name and version.
func lookupDefinition(defs []hosting.Definition, name, version string) (*engine.Definition, error) {
	r := engine.NewRegistry()
	for _, d := range defs {
		args := make([]engine.Argument, len(d.Arguments))
		for i, a := range d.Arguments {
			args[i] = engine.Argument{Name: a.Name, Type: engine.Type(a.Type), Required: a.Required}
		}
		if err := r.Add(&engine.Definition{Identity: d.Identity, Arguments: args}); err != nil {
			return nil, err
		}
	}
	return r.Lookup(name, version)
}

// argumentList is a definition's arguments with their types, for a message.
func argumentList(d *engine.Definition) string {
	if len(d.Arguments) == 0 {
		return "none"
	}
	parts := make([]string, len(d.Arguments))
	for i, a := range d.Arguments {
		parts[i] = a.Name + " " + string(a.Type)
	}
	return strings.Join(parts, ", ")
}
