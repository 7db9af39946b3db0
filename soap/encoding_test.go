package soap

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"net/http"
	"strings"
	"testing"
)

func compress(t *testing.T, enc, s string) string {
	t.Helper()
	var b bytes.Buffer
	var w interface {
		Write([]byte) (int, error)
		Close() error
	}
	if enc == "deflate" {
		w = zlib.NewWriter(&b)
	} else {
		w = gzip.NewWriter(&b)
	}
	if _, err := w.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestContentEncoding(t *testing.T) {
	ep := testEndpoint(nil, nil)
	ep.MaxBodyBytes = 4096
	body := env11("", wrapper("Run"))
	for _, enc := range []string{"gzip", "x-gzip", "deflate", "GZIP"} {
		w := post(t, ep, compress(t, strings.ToLower(strings.TrimPrefix(enc, "x-")), body), "Content-Type", ct11,
			"SOAPAction", actionNS+"Run", "Content-Encoding", enc)
		if r := parseReply(t, w); r.status != 200 || r.fault != nil {
			t.Errorf("%s: %d %s", enc, r.status, r.raw)
		}
	}
	if w := post(t, ep, body, "Content-Type", ct11, "Content-Encoding", "identity"); w.Code != 200 {
		t.Errorf("identity: %d", w.Code)
	}
	if w := post(t, ep, body, "Content-Type", ct11, "Content-Encoding", "br"); w.Code != http.StatusUnsupportedMediaType {
		t.Errorf("br: %d, want 415", w.Code)
	}
	if w := post(t, ep, "not gzip", "Content-Type", ct11, "Content-Encoding", "gzip"); w.Code != http.StatusUnsupportedMediaType {
		t.Errorf("corrupt gzip: %d, want 415", w.Code)
	}
	// A small compressed body that expands beyond the limit is refused.
	bomb := compress(t, "gzip", env11("", wrapper("Run")+"<!--"+strings.Repeat("x", 1<<20)+"-->"))
	if len(bomb) > 4096 {
		t.Fatalf("test bomb is %d bytes compressed", len(bomb))
	}
	if w := post(t, ep, bomb, "Content-Type", ct11, "Content-Encoding", "gzip"); w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("gzip bomb: %d, want 413", w.Code)
	}
}
