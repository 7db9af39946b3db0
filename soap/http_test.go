package soap

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestMethodNotAllowed(t *testing.T) {
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodOptions} {
		req := httptest.NewRequest(m, "/WorkflowControl", nil)
		w := httptest.NewRecorder()
		testEndpoint(nil, nil).ServeHTTP(w, req)
		if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "POST" {
			t.Errorf("%s: status %d Allow %q", m, w.Code, w.Header().Get("Allow"))
		}
	}
}

func TestUnsupportedMediaType(t *testing.T) {
	for _, ct := range []string{"", "application/json", "text/plain; charset=utf-8", "multipart/related; type=\"application/xop+xml\"", "garbage"} {
		rec := &recorder{}
		w := post(t, testEndpoint(rec, nil), env11("", wrapper("Run")), "Content-Type", ct)
		if w.Code != http.StatusUnsupportedMediaType || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") || w.Body.Len() == 0 {
			t.Errorf("%q: status %d, Content-Type %q", ct, w.Code, w.Header().Get("Content-Type"))
		}
		if _, n := rec.get(); n != 0 {
			t.Errorf("%q: operation ran", ct)
		}
	}
}

// countingReader fails the test if anything reads the body.
type countingReader struct{ n int }

func (c *countingReader) Read(p []byte) (int, error) { c.n += len(p); return 0, io.EOF }

func TestTooLarge(t *testing.T) {
	ep := testEndpoint(nil, nil)
	ep.MaxBodyBytes = 1000
	pad := "<!--" + strings.Repeat("x", 1000) + "-->"
	big := env11("", wrapper("Run")+pad)

	t.Run("Content-Length above limit is refused unread", func(t *testing.T) {
		body := &countingReader{}
		req := httptest.NewRequest(http.MethodPost, "/", body)
		req.Header.Set("Content-Type", ct11)
		req.ContentLength = 1 << 30
		w := httptest.NewRecorder()
		ep.ServeHTTP(w, req)
		if w.Code != http.StatusRequestEntityTooLarge || body.n != 0 {
			t.Errorf("status %d, read %d bytes", w.Code, body.n)
		}
	})
	t.Run("unknown length above limit", func(t *testing.T) {
		req := httptest.NewRequest(http.MethodPost, "/", io.NopCloser(strings.NewReader(big)))
		req.Header.Set("Content-Type", ct11)
		req.ContentLength = -1
		w := httptest.NewRecorder()
		ep.ServeHTTP(w, req)
		if w.Code != http.StatusRequestEntityTooLarge {
			t.Errorf("status %d", w.Code)
		}
	})
	t.Run("exactly the limit is fine", func(t *testing.T) {
		body := env11("", wrapper("Run"))
		body += strings.Repeat(" ", 1000-len(body))
		if w := post(t, ep, body, "Content-Type", ct11); w.Code != 200 {
			t.Errorf("status %d: %s", w.Code, w.Body)
		}
	})
	t.Run("default limit is 64 KiB", func(t *testing.T) {
		ep := testEndpoint(nil, nil)
		body := env11("", wrapper("Run")+"<!--"+strings.Repeat("x", 64<<10)+"-->")
		if w := post(t, ep, body, "Content-Type", ct11); w.Code != http.StatusRequestEntityTooLarge {
			t.Errorf("status %d", w.Code)
		}
		body = env11("", wrapper("Run")+"<!--"+strings.Repeat("x", 60<<10)+"-->")
		if w := post(t, ep, body, "Content-Type", ct11); w.Code != 200 {
			t.Errorf("status %d", w.Code)
		}
	})
}

// rawExchange writes raw HTTP bytes to a live server and returns what comes back, reading the
// status line first so the caller can see interim (100) responses.
func rawExchange(t *testing.T, srv *httptest.Server, head, body string, waitFor100 bool) (first string, rest *http.Response) {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	if waitFor100 {
		first, err = br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(first, "HTTP/1.1 100") {
			resp, err := http.ReadResponse(bufio.NewReader(io.MultiReader(strings.NewReader(first), br)), nil)
			if err != nil {
				t.Fatal(err)
			}
			return first, resp
		}
		if _, err := br.ReadString('\n'); err != nil { // blank line after 100 Continue
			t.Fatal(err)
		}
	}
	if _, err := io.WriteString(conn, body); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	return first, resp
}

func TestLiveHTTP(t *testing.T) {
	ep := testEndpoint(nil, nil)
	ep.MaxBodyBytes = 4096
	srv := httptest.NewServer(ep)
	defer srv.Close()
	body := "\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"utf-8\"?>" + env11("", wrapper("Run"))
	sa := `"` + actionNS + `Run"`

	t.Run("chunked", func(t *testing.T) {
		var chunks strings.Builder
		for i := 0; i < len(body); i += 17 {
			end := min(i+17, len(body))
			fmt.Fprintf(&chunks, "%x\r\n%s\r\n", end-i, body[i:end])
		}
		chunks.WriteString("0\r\n\r\n")
		head := "POST /wfim HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml; charset=utf-8\r\nSOAPAction: " + sa + "\r\nTransfer-Encoding: chunked\r\n\r\n"
		_, resp := rawExchange(t, srv, head, chunks.String(), false)
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || !strings.Contains(string(b), "RunResponse") {
			t.Errorf("status %d: %s", resp.StatusCode, b)
		}
	})
	t.Run("chunked above the limit", func(t *testing.T) {
		big := strings.Repeat("<!-- padding padding padding -->", 200)
		head := "POST /wfim HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nTransfer-Encoding: chunked\r\n\r\n"
		_, resp := rawExchange(t, srv, head, fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(big), big), false)
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("status %d", resp.StatusCode)
		}
	})
	t.Run("Expect 100-continue, client waits", func(t *testing.T) {
		head := fmt.Sprintf("POST /wfim HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml; charset=utf-8\r\nSOAPAction: %s\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", sa, len(body))
		first, resp := rawExchange(t, srv, head, body, true)
		if !strings.HasPrefix(first, "HTTP/1.1 100") || resp.StatusCode != 200 {
			t.Errorf("first line %q, final status %d", first, resp.StatusCode)
		}
	})
	t.Run("Expect 100-continue, client does not wait (Mono)", func(t *testing.T) {
		head := fmt.Sprintf("POST /wfim HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml; charset=utf-8\r\nSOAPAction: %s\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", sa, len(body))
		// The whole request goes out at once; an interim 100 may still come before the reply.
		_, resp := rawExchange(t, srv, head+body, "", true)
		if resp.StatusCode != 200 {
			t.Errorf("final status %d", resp.StatusCode)
		}
	})
	t.Run("Expect 100-continue above the limit gets 413, no 100", func(t *testing.T) {
		head := "POST /wfim HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: 1000000\r\nExpect: 100-continue\r\n\r\n"
		first, resp := rawExchange(t, srv, head, "", true)
		if !strings.HasPrefix(first, "HTTP/1.1 413") || resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("first line %q", first)
		}
	})
}
