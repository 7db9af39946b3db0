package server_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wimp-project/wimp/server/servertest"
)

// A request with both Content-Length and Transfer-Encoding is ambiguous (RFC 9112 §6.1): it is
// answered by its chunked framing and the connection is closed, so bytes after the chunked body
// are never read as a second request. Here they are a Terminate of another instance, which must
// stay Active.
func TestAmbiguousFramingClosesTheConnection(t *testing.T) {
	srv := servertest.Run(t, servertest.Options{})
	hostingC, _ := clients(srv.URL, http.DefaultClient)
	create := func() string {
		id := createExpense(t, hostingC, 1500, "unit")
		return id.String()
	}
	first, victim := create(), create()
	envelope := func(op, id string) string {
		return `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><` + op +
			` xmlns="http://schemas.datacontract.org/2008/10/WorkflowServices"><instanceId>` + id +
			`</instanceId><reason>r</reason></` + op + `></s:Body></s:Envelope>`
	}
	action := func(op string) string {
		return `"http://schemas.datacontract.org/2008/10/WorkflowServices/IWorkflowInstanceManagement/` + op + `"`
	}
	body := envelope("Suspend", first)
	smuggled := envelope("Terminate", victim)
	raw := "POST /WorkflowControl HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml; charset=utf-8\r\n" +
		"SOAPAction: " + action("Suspend") + "\r\n" +
		fmt.Sprintf("Content-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n", len(body)) +
		fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(body), body) +
		"POST /WorkflowControl HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml; charset=utf-8\r\n" +
		"SOAPAction: " + action("Terminate") + "\r\n" +
		fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(smuggled), smuggled)

	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !resp.Close {
		t.Fatalf("first reply: %d, Connection close %v; want 200 and the connection closed", resp.StatusCode, resp.Close)
	}
	if _, err := http.ReadResponse(br, nil); err == nil {
		t.Fatal("a second reply came on the connection: the bytes after the chunked body ran as a request")
	}
	if inst, err := hostingC.GetInstance(bg, mustParse(t, victim)); err != nil || inst.State != "Active" {
		t.Fatalf("the instance the smuggled request addressed: %v %v, want Active", inst, err)
	}
	if inst, err := hostingC.GetInstance(bg, mustParse(t, first)); err != nil || inst.State != "Suspended" {
		t.Fatalf("the instance the framed request addressed: %v %v, want Suspended", inst, err)
	}
}
