package soap

import (
	"net/http"
	"strings"

	"github.com/beevik/etree"
)

// actionSource is one place a request can state its action.
type actionSource struct {
	name  string
	value string
}

// headerActions lists, in priority order, the action sources present in the request's headers:
// wsa:Action, the SOAP 1.2 Content-Type action parameter, the SOAPAction HTTP header.
func headerActions(a *addressing, r *http.Request) []actionSource {
	var out []actionSource
	if a.hasAction {
		out = append(out, actionSource{"wsa:Action", a.action})
	}
	if mt, params, err := parseContentType(r.Header.Get("Content-Type")); err == nil && mt == "application/soap+xml" {
		if act := strings.TrimSpace(params["action"]); act != "" {
			out = append(out, actionSource{"the Content-Type action parameter", act})
		}
	}
	if vs := r.Header.Values("SOAPAction"); len(vs) > 0 {
		if act := unquote(vs[0]); act != "" {
			out = append(out, actionSource{"the SOAPAction header", act})
		}
	}
	return out
}

func unquote(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	return s
}

// resolve finds the operation of a request: the first header action source wins, every other
// present source must agree with it, and a body wrapper that is some operation's element must be
// that operation's. Without any header source the wrapper alone decides.
func (e *Endpoint) resolve(a *addressing, r *http.Request, body *etree.Element) (*Operation, string, *Fault) {
	var byBody *Operation
	if body != nil {
		q := QName{nsOf(body), body.Tag}
		for i := range e.Operations {
			if e.Operations[i].Element == q {
				byBody = &e.Operations[i]
				break
			}
		}
	}
	srcs := headerActions(a, r)
	if len(srcs) == 0 {
		if byBody == nil {
			return nil, "", actionNotSupported(a.ns, "")
		}
		return byBody, byBody.Action, nil
	}
	action := srcs[0].value
	for _, s := range srcs[1:] {
		if s.value != action {
			return nil, action, addressingFault(a.ns, "ActionMismatch",
				"The action '"+s.value+"' of "+s.name+" does not match the action '"+action+"' of "+srcs[0].name+".")
		}
	}
	var op *Operation
	for i := range e.Operations {
		if e.Operations[i].Action == action {
			op = &e.Operations[i]
			break
		}
	}
	if op == nil {
		return nil, action, actionNotSupported(a.ns, action)
	}
	if byBody != nil && byBody != op {
		return nil, action, addressingFault(a.ns, "ActionMismatch",
			"The body element "+byBody.Element.String()+" belongs to the action '"+byBody.Action+"', not to the action '"+action+"' of "+srcs[0].name+".")
	}
	return op, action, nil
}
