package protocol

import (
	"strings"
	"testing"

	"github.com/beevik/etree"

	"github.com/wimp-project/wimp/soap"
)

func wrapper(t testing.TB, xml string) *etree.Element {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromString(xml); err != nil {
		t.Fatalf("bad test XML: %v", err)
	}
	return doc.Root()
}

const (
	tns = `xmlns="http://schemas.datacontract.org/2008/10/WorkflowServices"`
	xsi = `xmlns:i="http://www.w3.org/2001/XMLSchema-instance"`
)

func mustOp(name string) Op {
	op, ok := OpByName(name)
	if !ok {
		panic(name)
	}
	return op
}

func TestDecodeInstanceID(t *testing.T) {
	for _, tc := range []struct {
		name, body, fault string
	}{
		{"plain", `<Run ` + tns + `><instanceId>3f2504e0-4f89-41d3-9a0c-0305e82c3301</instanceId></Run>`, ""},
		{"upper case", `<Run ` + tns + `><instanceId>3F2504E0-4F89-41D3-9A0C-0305E82C3301</instanceId></Run>`, ""},
		{"braces and white space", `<Run ` + tns + `><instanceId>
			{3f2504e0-4f89-41d3-9a0c-0305e82c3301} </instanceId></Run>`, ""},
		{"prefixed", `<w:Run xmlns:w="http://schemas.datacontract.org/2008/10/WorkflowServices"><w:instanceId>3f2504e0-4f89-41d3-9a0c-0305e82c3301</w:instanceId></w:Run>`, ""},
		{"unqualified child tolerated", `<Run ` + tns + `><instanceId xmlns="">3f2504e0-4f89-41d3-9a0c-0305e82c3301</instanceId></Run>`, ""},
		{"comment and CDATA", `<Run ` + tns + `><instanceId>3f2504e0-4f89-<!-- x -->41d3-<![CDATA[9a0c]]>-0305e82c3301</instanceId></Run>`, ""},
		{"unknown children ignored", `<Run ` + tns + `><extra>1</extra><instanceId>3f2504e0-4f89-41d3-9a0c-0305e82c3301</instanceId><reason>x</reason></Run>`, ""},
		{"xsi:type tolerated", `<Run ` + tns + ` ` + xsi + `><instanceId i:type="x">3f2504e0-4f89-41d3-9a0c-0305e82c3301</instanceId></Run>`, ""},
		{"missing", `<Run ` + tns + `/>`, "DeserializationFailed"},
		{"empty", `<Run ` + tns + `><instanceId/></Run>`, "DeserializationFailed"},
		{"white space only", `<Run ` + tns + `><instanceId>  </instanceId></Run>`, "DeserializationFailed"},
		{"not a GUID", `<Run ` + tns + `><instanceId>42</instanceId></Run>`, "DeserializationFailed"},
		{"nil", `<Run ` + tns + ` ` + xsi + `><instanceId i:nil="true"/></Run>`, "DeserializationFailed"},
		{"twice", `<Run ` + tns + `><instanceId>3f2504e0-4f89-41d3-9a0c-0305e82c3301</instanceId><instanceId>3f2504e0-4f89-41d3-9a0c-0305e82c3301</instanceId></Run>`, "DeserializationFailed"},
		{"child element", `<Run ` + tns + `><instanceId><a/></instanceId></Run>`, "DeserializationFailed"},
		{"other namespace child is not instanceId", `<Run ` + tns + `><instanceId xmlns="urn:x">3f2504e0-4f89-41d3-9a0c-0305e82c3301</instanceId></Run>`, "DeserializationFailed"},
		{"wrong wrapper", `<Cancel ` + tns + `><instanceId>3f2504e0-4f89-41d3-9a0c-0305e82c3301</instanceId></Cancel>`, "DeserializationFailed"},
		{"wrapper in another namespace", `<Run xmlns="urn:other"><instanceId>3f2504e0-4f89-41d3-9a0c-0305e82c3301</instanceId></Run>`, "DeserializationFailed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd, err := Decode(mustOp("Run"), wrapper(t, tc.body))
			got := ""
			if err != nil {
				f := err.(*soap.Fault)
				got = f.Subcodes[0].Local
				if f.Code != soap.Sender || f.Subcodes[0].Space != DispatcherNS {
					t.Errorf("fault %+v, want Sender/dispatcher", f)
				}
			}
			if got != tc.fault {
				t.Fatalf("fault %q (%v), want %q", got, err, tc.fault)
			}
			if err == nil && cmd.InstanceID != testID {
				t.Errorf("id %s", cmd.InstanceID)
			}
		})
	}
	if _, err := Decode(mustOp("Run"), nil); err == nil {
		t.Error("an empty body must fault")
	}
}

func TestDecodeReason(t *testing.T) {
	const id = `<instanceId>3f2504e0-4f89-41d3-9a0c-0305e82c3301</instanceId>`
	for _, op := range []string{"Suspend", "TransactedSuspend", "Terminate", "TransactedTerminate", "Abandon"} {
		suspend := strings.HasSuffix(op, "Suspend")
		for _, tc := range []struct {
			name, child string
			want        *string
			required    bool // a Sender fault without subcode for Suspend
		}{
			{"text", `<reason>R&amp;D &lt;urgent&gt; Grüße ✓</reason>`, ptr("R&D <urgent> Grüße ✓"), false},
			{"absent", ``, nil, true},
			{"nil", `<reason i:nil="true" ` + xsi + `/>`, nil, true},
			{"nil=1", `<reason i:nil="1" ` + xsi + `/>`, nil, true},
			{"empty", `<reason/>`, ptr(""), true},
			{"blank", `<reason>  
			 </reason>`, ptr("  \n\t\t\t "), true},
			{"spec example white space kept", `<reason>
              Suspend the instance
      </reason>`, ptr("\n              Suspend the instance\n      "), false},
		} {
			t.Run(op+"/"+tc.name, func(t *testing.T) {
				cmd, err := Decode(mustOp(op), wrapper(t, `<`+op+` `+tns+`>`+id+tc.child+`</`+op+`>`))
				if suspend && tc.required {
					f, ok := err.(*soap.Fault)
					if !ok || f.Code != soap.Sender || len(f.Subcodes) != 0 {
						t.Fatalf("want a Sender fault without subcode, got %#v", err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if (cmd.Reason == nil) != (tc.want == nil) || (cmd.Reason != nil && *cmd.Reason != *tc.want) {
					t.Errorf("reason %v, want %v", show(cmd.Reason), show(tc.want))
				}
			})
		}
	}
}

func TestDecodeReasonCheckedAfterInstanceID(t *testing.T) {
	_, err := Decode(mustOp("Suspend"), wrapper(t, `<Suspend `+tns+`><instanceId>nope</instanceId></Suspend>`))
	if f, ok := err.(*soap.Fault); !ok || len(f.Subcodes) == 0 || f.Subcodes[0].Local != "DeserializationFailed" {
		t.Fatalf("a bad instanceId must be reported before the missing reason, got %v", err)
	}
}

func TestDecodeIdentity(t *testing.T) {
	const id = `<instanceId>3f2504e0-4f89-41d3-9a0c-0305e82c3301</instanceId>`
	const act = `xmlns:a="http://schemas.datacontract.org/2004/07/System.Activities"`
	for _, tc := range []struct {
		name, child string
		want        string // Identity.String(), "nil" for none, "fault" for DeserializationFailed
	}{
		{"full", `<updatedDefinitionIdentity ` + act + ` ` + xsi + `><a:name>ExpenseApproval</a:name><a:package>wimp.samples</a:package><a:version>2.0.0.0</a:version></updatedDefinitionIdentity>`,
			"ExpenseApproval; Version=2.0.0.0; Package=wimp.samples"},
		{"any order, members nil or omitted", `<updatedDefinitionIdentity ` + act + ` ` + xsi + `><a:version>1.0</a:version><a:package i:nil="true"/><a:name>X</a:name></updatedDefinitionIdentity>`,
			"X; Version=1.0"},
		{"absent", ``, "nil"},
		{"nil", `<updatedDefinitionIdentity i:nil="true" ` + xsi + `/>`, "nil"},
		{"bad version", `<updatedDefinitionIdentity ` + act + `><a:name>X</a:name><a:version>one</a:version></updatedDefinitionIdentity>`, "fault"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd, err := Decode(mustOp("Update"), wrapper(t, `<Update `+tns+`>`+id+tc.child+`</Update>`))
			got := "nil"
			switch {
			case err != nil:
				got = "fault"
			case cmd.Identity != nil:
				got = cmd.Identity.String()
			}
			if got != tc.want {
				t.Errorf("got %q (%v), want %q", got, err, tc.want)
			}
		})
	}
}

func ptr(s string) *string { return &s }

func show(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return "\"" + *s + "\""
}

func FuzzDecode(f *testing.F) {
	f.Add("Suspend", `<Suspend `+tns+`><instanceId>3f2504e0-4f89-41d3-9a0c-0305e82c3301</instanceId><reason>x</reason></Suspend>`)
	f.Add("Update", `<Update `+tns+`><instanceId>3f2504e0-4f89-41d3-9a0c-0305e82c3301</instanceId><updatedDefinitionIdentity xmlns:a="http://schemas.datacontract.org/2004/07/System.Activities"><a:name>n</a:name><a:version>1.0</a:version></updatedDefinitionIdentity></Update>`)
	f.Fuzz(func(t *testing.T, opName, body string) {
		op, ok := OpByName(opName)
		if !ok {
			op = Ops[0]
		}
		doc := etree.NewDocument()
		if doc.ReadFromString(body) != nil || doc.Root() == nil {
			return
		}
		cmd, err := Decode(op, doc.Root())
		if err != nil {
			if _, ok := err.(*soap.Fault); !ok {
				t.Fatalf("non-fault error %T", err)
			}
			return
		}
		if op.Kind == Suspend && strings.TrimSpace(cmd.ReasonText()) == "" {
			t.Fatal("Suspend decoded without a reason")
		}
	})
}
