package soap

import (
	"fmt"
	"strings"

	"github.com/beevik/etree"
)

// XSINS is the XML Schema instance namespace (xsi:nil, xsi:type).
const XSINS = "http://www.w3.org/2001/XMLSchema-instance"

// IsNil reports whether a body value element carries xsi:nil="true" (or "1").
func IsNil(e *etree.Element) bool {
	for _, a := range e.Attr {
		if a.Key == "nil" && attrNS(e, a) == XSINS {
			v := strings.TrimSpace(a.Value)
			return v == "true" || v == "1"
		}
	}
	return false
}

// TextContent concatenates a simple-typed value element's character data (text and CDATA;
// comments skipped). A child element is an error: simple types have none.
func TextContent(e *etree.Element) (string, error) {
	var b strings.Builder
	for _, t := range e.Child {
		switch t := t.(type) {
		case *etree.CharData:
			b.WriteString(t.Data)
		case *etree.Element:
			return "", fmt.Errorf("unexpected child element '%s'", t.Tag)
		}
	}
	return b.String(), nil
}
