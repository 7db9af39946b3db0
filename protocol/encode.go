package protocol

import (
	"github.com/beevik/etree"

	"github.com/wimp-project/wimp/soap"
)

// Encode writes cmd as its request body wrapper, the inverse of Decode and the form WCF's
// DataContractSerializer sends: instanceId; reason when not nil; updatedDefinitionIdentity
// with its non-empty members, or xsi:nil when the identity is nil.
func Encode(cmd Command) *etree.Element {
	body := etree.NewElement(cmd.Op.Name)
	body.CreateAttr("xmlns", NS)
	body.CreateElement("instanceId").SetText(cmd.InstanceID.String())
	switch cmd.Op.Param {
	case ReasonParam:
		if cmd.Reason != nil {
			body.CreateElement("reason").SetText(*cmd.Reason)
		}
	case IdentityParam:
		e := body.CreateElement("updatedDefinitionIdentity")
		if cmd.Identity == nil {
			e.CreateAttr("xmlns:i", soap.XSINS)
			e.CreateAttr("i:nil", "true")
			break
		}
		e.CreateAttr("xmlns:a", ActivitiesNS)
		for _, m := range [][2]string{{"name", cmd.Identity.Name}, {"package", cmd.Identity.Package}, {"version", cmd.Identity.Version}} {
			if m[1] != "" {
				e.CreateElement("a:" + m[0]).SetText(m[1])
			}
		}
	}
	return body
}
