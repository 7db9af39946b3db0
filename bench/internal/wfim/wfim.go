// Package wfim is the MS-WFIM client the benchmark programs under bench/ share: one operation
// over SOAP 1.1, its reply checked strictly.
package wfim

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/beevik/etree"
	"github.com/google/uuid"

	"github.com/wimp-project/wimp/protocol"
)

const soap11 = "http://schemas.xmlsoap.org/soap/envelope/"

// Call sends one MS-WFIM operation on instance id over SOAP 1.1 to the endpoint url, inner
// being the elements after instanceId, and checks the reply with CheckEmpty.
func Call(c *http.Client, url, op string, id uuid.UUID, inner string) error {
	body := `<s:Envelope xmlns:s="` + soap11 + `"><s:Body><` + op + ` xmlns="` + protocol.NS + `"><instanceId>` +
		id.String() + `</instanceId>` + inner + `</` + op + `></s:Body></s:Envelope>`
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("SOAPAction", `"`+protocol.NS+`/IWorkflowInstanceManagement/`+op+`"`)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	return CheckEmpty(op, resp.StatusCode, b)
}

// CheckEmpty accepts only HTTP 200 with a SOAP 1.1 envelope whose Body holds exactly the empty
// <op>Response element of the MS-WFIM namespace.
func CheckEmpty(op string, status int, b []byte) error {
	bad := func(why string) error {
		return fmt.Errorf("HTTP %d, %s: %s", status, why, bytes.TrimSpace(b[:min(len(b), 600)]))
	}
	if status != http.StatusOK {
		return bad("not 200")
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(b); err != nil {
		return bad("unreadable XML")
	}
	env := doc.Root()
	if env == nil || env.Tag != "Envelope" || env.NamespaceURI() != soap11 {
		return bad("not a SOAP 1.1 envelope")
	}
	body := env.SelectElement("Body")
	if body == nil || len(body.ChildElements()) != 1 {
		return bad("not one element in the Body")
	}
	r := body.ChildElements()[0]
	if r.Tag != op+"Response" || r.NamespaceURI() != protocol.NS || len(r.ChildElements()) != 0 || strings.TrimSpace(r.Text()) != "" {
		return bad("not the empty " + op + "Response")
	}
	return nil
}
