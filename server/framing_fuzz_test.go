package server_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wimp-project/wimp/server/servertest"
)

// FuzzHTTPFraming writes arbitrary bytes as a raw HTTP/1.1 stream (one or several requests,
// well-framed or not) to the whole server and checks that it always ends the exchange in time —
// replies that parse as HTTP, then silence or a closed connection, never a hang — and that it
// serves a normal request afterwards.
func FuzzHTTPFraming(f *testing.F) {
	body := `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><Run xmlns="http://schemas.datacontract.org/2008/10/WorkflowServices"><instanceId>3f2504e0-4f89-41d3-9a0c-0305e82c3301</instanceId></Run></s:Body></s:Envelope>`
	head := "POST /WorkflowControl HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\n"
	for _, seed := range []string{
		head + "Content-Length: 231\r\n\r\n" + body,
		// Content-Length and Transfer-Encoding together, a second request smuggled after the chunked body.
		head + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + head + "Content-Length: 0\r\n\r\n",
		head + "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n",
		head + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
		head + "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
		head + "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
		head + "Transfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\nx\r\n",
		head + "Transfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nTrailer: x\r\n\r\n",
		head + "Content-Length: -1\r\n\r\n",
		head + "Content-Length: 99999999999999999999\r\n\r\n",
		head + "Content-Length:  231 \r\n\r\n" + body,
		"POST /WorkflowControl HTTP/1.1\nHost: x\nContent-Length: 0\n\n",                              // bare LF
		"POST /WorkflowControl HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\nContent-Length: 0\r\n\r\n", // obs-fold
		"POST /WorkflowControl HTTP/1.1\r\nHost: x\r\nContent Length: 0\r\n\r\n",
		"GET /WorkflowControl?wsdl HTTP/1.0\r\n\r\n",
		"POST /WorkflowControl HTTP/1.1\r\n\r\n",
		"garbage\r\n\r\n",
		"POST /WorkflowControl HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 231\r\n\r\n" + body,
	} {
		f.Add([]byte(seed))
	}
	srv := servertest.Run(f, servertest.Options{})
	addr := strings.TrimPrefix(srv.URL, "http://")
	f.Fuzz(func(t *testing.T, raw []byte) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := conn.Write(raw); err != nil && !errors.Is(err, net.ErrClosed) {
			return // the server closed early: that is an answer
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			tc.CloseWrite() // no more bytes: the server must answer what it has, or give up on it
		}
		br := bufio.NewReader(conn)
		for {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				if errors.Is(err, os.ErrDeadlineExceeded) {
					t.Fatalf("no end to the exchange within 5s for %q", raw)
				}
				break // closed, or not more replies
			}
			if _, err := io.Copy(io.Discard, resp.Body); errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("a reply body did not end within 5s for %q", raw)
			}
			resp.Body.Close()
		}
		resp, err := http.Get(srv.URL + "/healthz")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("after %q the server does not serve /healthz: %v %v", raw, resp, err)
		}
		resp.Body.Close()
	})
}
