package interoptest

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Outcome is a call's outcome as a client reported it: what the C# drivers print
// (DriverSupport.cs) and what the other clients' results are converted to.
type Outcome struct {
	Seq     int    `json:"seq"`
	Outcome string `json:"outcome"` // ok, fault, error
	Reason  string `json:"reason"`
	// The fault's code and its subcode (WCF: FaultException.Code and Code.SubCode).
	IsSender    bool   `json:"isSender"`
	IsReceiver  bool   `json:"isReceiver"`
	CodeName    string `json:"codeName"`
	CodeNs      string `json:"codeNs"`
	SubcodeName string `json:"subcodeName"`
	SubcodeNs   string `json:"subcodeNs"`
	Action      string `json:"action"`
	// An error that is not a SOAP fault.
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
}

// WantCode is the code and subcode a client must report for w: over SOAP 1.2 the
// Sender code with the subcode; over SOAP 1.1 the faultcode, which is the subcode's
// QName (WCF's convention) or soap:Client for a Sender fault without subcode.
func WantCode(w Want, soap12 bool) (codeNs, codeName, subNs, subName string) {
	faultNS := w.FaultNS
	if faultNS == "" {
		faultNS = NSWorkflowServices
	}
	switch {
	case soap12:
		codeNs, codeName = NSSOAP12Env, "Sender"
		if w.Fault != Sender {
			subNs, subName = faultNS, w.Fault
		}
	case w.Fault == Sender:
		codeNs, codeName = NSSOAP11Env, "Client"
	default:
		codeNs, codeName = faultNS, w.Fault
	}
	return
}

// Check compares what the client reported with w for a call over SOAP 1.2 (soap12)
// or 1.1: success, or a fault with reason text and the code of WantCode. "" means it
// matches.
func Check(w Want, soap12 bool, o Outcome) string {
	if o.Outcome == "error" {
		return fmt.Sprintf("client error %s: %s", o.ErrorType, FirstLine(o.Error))
	}
	if w.Fault == "" {
		if o.Outcome != "ok" {
			return "want success, got " + o.Describe()
		}
		return ""
	}
	if o.Outcome != "fault" {
		return fmt.Sprintf("want fault %s, got %s", w.Fault, o.Outcome)
	}
	if strings.TrimSpace(o.Reason) == "" {
		return "fault without reason text: " + o.Describe()
	}
	codeNs, codeName, subNs, subName := WantCode(w, soap12)
	if o.CodeNs != codeNs || o.CodeName != codeName || o.SubcodeNs != subNs || o.SubcodeName != subName {
		return fmt.Sprintf("want code {%s}%s subcode {%s}%s, got %s", codeNs, codeName, subNs, subName, o.Describe())
	}
	return ""
}

// CheckWCF is Check plus what a WCF client (Mono's) must also say: a SOAP 1.2
// fault's FaultException.Code.IsSenderFault.
func CheckWCF(w Want, soap12 bool, o Outcome) string {
	if msg := Check(w, soap12, o); msg != "" {
		return msg
	}
	if w.Fault != "" && soap12 && !o.IsSender {
		return "FaultException.Code.IsSenderFault is false: " + o.Describe()
	}
	return ""
}

// Describe says what o reports, for failure messages.
func (o Outcome) Describe() string {
	switch o.Outcome {
	case "ok":
		return "success"
	case "fault":
		s := fmt.Sprintf("fault code {%s}%s", o.CodeNs, o.CodeName)
		if o.SubcodeName != "" {
			s += fmt.Sprintf(" subcode {%s}%s", o.SubcodeNs, o.SubcodeName)
		}
		return s + fmt.Sprintf(" reason %q", o.Reason)
	}
	return fmt.Sprintf("%s %s %s", o.Outcome, o.ErrorType, FirstLine(o.Error))
}

// FirstLine is s up to its first newline.
func FirstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// FirstLines is s cut to n lines, saying how many more there were.
func FirstLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append(lines[:n], fmt.Sprintf("… (%d more lines)", len(lines)-n))
	}
	return strings.Join(lines, "\n")
}

// GSOAPQName resolves a QName as gSOAP reports it: prefix:local (the prefix from the namespace
// table of the proxy that made the call, nsmap) or "URI":local for a namespace the table lacks.
func GSOAPQName(s *string, nsmap map[string]string) (ns, local string, ok bool) {
	if s == nil {
		return "", "", false
	}
	v := *s
	if strings.HasPrefix(v, `"`) {
		end := strings.Index(v[1:], `":`)
		if end < 0 {
			return "", "", false
		}
		return v[1 : end+1], v[end+3:], true
	}
	prefix, local, found := strings.Cut(v, ":")
	if !found {
		return "", v, true
	}
	ns, ok = nsmap[prefix]
	return ns, local, ok
}

// GSOAPResult is one line of a gSOAP driver's output (interop/gsoap/testdata/driver.cpp and
// auth_driver.cpp): the call and what gSOAP reported, as soap->error, the HTTP status and the
// fault's parts (nil when absent).
type GSOAPResult struct {
	Seq          int     `json:"seq"`
	Binding      string  `json:"binding"`
	Op           string  `json:"op"`
	Error        int     `json:"error"`
	HTTP         int     `json:"http"`
	Version      int     `json:"version"`
	Faultcode    *string `json:"faultcode"`
	Code         *string `json:"code"`
	Subcode      *string `json:"subcode"`
	FaultSubcode *string `json:"faultSubcode"`
	Reason       *string `json:"reason"`
}

func (r GSOAPResult) String() string {
	b, _ := json.Marshal(r)
	return string(b)
}
