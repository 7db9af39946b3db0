package conformance

import (
	"strings"
	"testing"
)

func TestCompareXML(t *testing.T) {
	const want = `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header>
  <a:Action xmlns:a="urn:wsa" s:mustUnderstand="1">fault</a:Action>
  <a:RelatesTo xmlns:a="urn:wsa">{{messageID}}</a:RelatesTo></s:Header>
<s:Body><s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value xmlns:q="urn:wf">q:InstanceNotFound</s:Value></s:Subcode></s:Code>
<s:Reason><s:Text xml:lang="en">{{any}}</s:Text></s:Reason></s:Fault></s:Body></s:Envelope>`
	filled := strings.NewReplacer("{{messageID}}", "urn:m1", "{{any}}", "text").Replace(want)
	for _, tc := range []struct {
		name, got string
		same      bool
	}{
		{"filled in", filled, true},
		{"other prefixes, other header order", `<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope" xmlns:w="urn:wsa"><e:Header><w:RelatesTo>urn:m1</w:RelatesTo><w:Action e:mustUnderstand="1">fault</w:Action></e:Header><e:Body><e:Fault><e:Code><e:Value>e:Sender</e:Value><e:Subcode><e:Value xmlns:x="urn:wf">x:InstanceNotFound</e:Value></e:Subcode></e:Code><e:Reason><e:Text xml:lang="en">whatever</e:Text></e:Reason></e:Fault></e:Body></e:Envelope>`, true},
		{"wrong subcode", strings.Replace(filled, "q:InstanceNotFound", "q:InstanceSuspended", 1), false},
		{"subcode in another namespace", strings.Replace(filled, `xmlns:q="urn:wf"`, `xmlns:q="urn:other"`, 1), false},
		{"wrong RelatesTo", strings.Replace(filled, "urn:m1", "urn:m2", 1), false},
		{"empty reason", strings.Replace(filled, ">text<", "><", 1), false},
		{"missing mustUnderstand", strings.Replace(filled, ` s:mustUnderstand="1"`, "", 1), false},
		{"other language", strings.Replace(filled, `xml:lang="en"`, `xml:lang="de"`, 1), false},
		{"extra header", strings.Replace(filled, "</s:Header>", `<x:Y xmlns:x="urn:x"/></s:Header>`, 1), false},
	} {
		d := compareXML([]byte(want), []byte(tc.got), "urn:m1")
		if (d == "") != tc.same {
			t.Errorf("%s: difference %q, want same=%v", tc.name, d, tc.same)
		}
	}
}

func TestParseScenario(t *testing.T) {
	sc, err := Parse("x", []byte(`What it shows.
-- setup --
3f2504e0-4f89-41d3-9a0c-0305e82c3301 Suspended reason="a \"quoted\" reason" definition=OrderProcessing@2.0.0.0
-- request --
POST /WorkflowControl HTTP/1.1
Content-Type: text/xml
Content-Length: 5

<a/>x
-- reply --
HTTP 500
Content-Type: text/xml; charset=utf-8

<r/>
-- after --
3f2504e0-4f89-41d3-9a0c-0305e82c3301 Completed completion=Canceled reason=""
`), ".")
	if err != nil {
		t.Fatal(err)
	}
	in := sc.Setup[0]
	if in.State != "Suspended" || in.Reason != `a "quoted" reason` || in.Definition != "OrderProcessing" || in.Version != "2.0.0.0" {
		t.Errorf("setup %+v", in)
	}
	if !strings.HasSuffix(string(sc.Request), "\r\n\r\n<a/>x") || !strings.Contains(string(sc.Request), "Content-Length: 5\r\n") {
		t.Errorf("request %q", sc.Request)
	}
	if sc.Status != 500 || sc.ContentType != "text/xml; charset=utf-8" || string(sc.Reply) != "<r/>" {
		t.Errorf("reply %d %q %q", sc.Status, sc.ContentType, sc.Reply)
	}
	if a := sc.After[0]; a.State != "Completed" || a.Completion != "Canceled" || a.Reason == nil || *a.Reason != "" {
		t.Errorf("after %+v", a)
	}
	for _, bad := range []string{
		"-- setup --\nid Sleeping\n-- request --\nPOST / HTTP/1.1\n\n-- reply --\nHTTP 200\n",
		"-- request --\nPOST / HTTP/1.1\n\n-- reply --\nHTTP two\n",
		"-- bogus --\n",
		"-- reply --\nHTTP 200\n",
		"-- request --\nPOST / HTTP/1.1\n\n-- reply --\nHTTP 200\nX-Other: 1\n\n<a/>\n",
	} {
		if _, err := Parse("bad", []byte(bad), "."); err == nil {
			t.Errorf("Parse accepted %q", bad)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("d\n-- setup --\nid Active reason=\"x\"\n-- request --\nPOST / HTTP/1.1\nContent-Length: 1\n\nx\n-- reply --\nHTTP 200\n\n<a/>\n-- after --\nid Active\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sc, err := Parse("fuzz", data, "/nonexistent")
		if err == nil && (len(sc.Request) == 0 || sc.Status == 0 && !strings.Contains(string(data), "HTTP 0")) {
			t.Fatalf("accepted a scenario without request or status: %+v", sc)
		}
	})
}

func FuzzCompareXML(f *testing.F) {
	f.Add([]byte(`<a xmlns="urn:x"><b>{{any}}</b></a>`), []byte(`<p:a xmlns:p="urn:x"><p:b>t</p:b></p:a>`))
	f.Fuzz(func(t *testing.T, want, got []byte) {
		_ = compareXML(want, got, "m")
		if d := compareXML(got, got, ""); d != "" && !strings.Contains(d, "not XML") && !strings.Contains(d, "missing root") &&
			!strings.Contains(string(got), "{{") {
			t.Fatalf("a document differs from itself: %s", d)
		}
	})
}
