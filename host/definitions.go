package host

import (
	"context"

	"github.com/wimp-project/wimp/store"
	"github.com/wimp-project/wimp/workflow"
)

// Where a definition was loaded from (Definition.Source).
const (
	SourceEmbedded = "embedded" // a sample built into the binary; Location is its name there
	SourceFile     = "file"     // a file; Location is its path as given (--definitions)
)

// Definition describes a registered workflow definition.
type Definition struct {
	Identity      workflow.Identity
	Arguments     []Argument
	UpdatableFrom []workflow.Identity // the identities it declares its instances can be updated from
	Source        string              // SourceEmbedded or SourceFile ("" for one added in code)
	Location      string              // e.g. samples/ExpenseApproval.xml, or /etc/wimp/definitions/mine.xml
}

// Argument is one of a definition's input arguments.
type Argument struct {
	Name     string
	Type     string // Number, String, Boolean or Object
	Required bool
	Default  string // the default's expression as written ("" when none: the type's zero value)
}

// Definitions lists every registered definition, by package, name and version.
func (h *Host) Definitions(ctx context.Context) ([]Definition, error) {
	if err := h.Authorize(ctx, "GetDefinitions", Reader); err != nil {
		return nil, err
	}
	return h.definitions(), nil
}

func (h *Host) definitions() []Definition {
	all := h.defs.All()
	out := make([]Definition, 0, len(all))
	for _, d := range all {
		def := Definition{Identity: d.Identity, UpdatableFrom: append([]workflow.Identity(nil), d.UpdatableFrom...),
			Location: d.File}
		switch {
		case h.defs.Embedded(d):
			def.Source = SourceEmbedded
		case d.File != "":
			def.Source = SourceFile
		}
		for _, a := range d.Arguments {
			arg := Argument{Name: a.Name, Type: string(a.Type), Required: a.Required}
			if a.Default != nil {
				arg.Default = a.Default.Source
			}
			def.Arguments = append(def.Arguments, arg)
		}
		out = append(out, def)
	}
	return out
}

// reportDefinitions logs, at start, every definition loaded (name, version, where from), and
// warns about the instances in the store whose definition is not registered: they cannot run
// (the host suspends one with LoadFailed when it tries) until the definition is loaded again.
// It reads the store's counts by definition, so it costs little at any number of instances.
func (h *Host) reportDefinitions(ctx context.Context) {
	defs := h.definitions()
	for _, d := range defs {
		h.log.Info("definition loaded", "name", d.Identity.Name, "version", d.Identity.Version,
			"package", d.Identity.Package, "source", d.Source, "location", d.Location)
	}
	cs, err := h.store.CountInstances(ctx, store.Filter{}, store.GroupByDefinition)
	if err != nil {
		h.log.Warn("could not check the stored instances' definitions", "err", err)
		return
	}
	for _, c := range cs {
		if _, err := h.defs.Get(c.Definition); err == nil {
			continue
		}
		h.log.Warn("instances in the store have a definition that is not registered; they cannot run until it is loaded",
			"name", c.Definition.Name, "version", c.Definition.Version, "package", c.Definition.Package, "instances", c.N)
	}
}
