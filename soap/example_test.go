package soap_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"

	"github.com/beevik/etree"
	"github.com/wimp-project/wimp/soap"
)

func Example() {
	const ns = "http://schemas.datacontract.org/2008/10/WorkflowServices"
	const act = ns + "/IWorkflowInstanceManagement/"
	ep := &soap.Endpoint{Operations: []soap.Operation{{
		Action: act + "Run", ReplyAction: act + "RunResponse", Element: soap.QName{Space: ns, Local: "Run"},
		Handle: func(ctx context.Context, req *soap.Request) (*etree.Element, error) {
			if req.Body.SelectElement("instanceId") == nil {
				return nil, soap.NewFault(soap.Sender, "instanceId is missing",
					soap.QName{Space: soap.NSDispatcher, Local: "DeserializationFailed"})
			}
			r := etree.NewElement("RunResponse")
			r.CreateAttr("xmlns", ns)
			return r, nil
		},
	}}}
	srv := httptest.NewServer(ep)
	defer srv.Close()

	c := &soap.Client{URL: srv.URL, Version: soap.V12, Addressing: soap.WSA10}
	body := etree.NewElement("Run")
	body.CreateAttr("xmlns", ns)
	_, err := c.Call(context.Background(), act+"Run", body)
	var f *soap.Fault
	if errors.As(err, &f) {
		fmt.Println(f.Code, f.Subcodes[0].Local, f.Reason)
	}
	body.CreateElement("instanceId").SetText("3f2504e0-4f89-41d3-9a0c-0305e82c3301")
	reply, err := c.Call(context.Background(), act+"Run", body)
	fmt.Println(reply.Tag, err)
	// Output:
	// Sender DeserializationFailed instanceId is missing
	// RunResponse <nil>
}
