package soap

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/beevik/etree"
)

// fuzzEndpoint echoes the request body element back, so replies carry arbitrary parsed content.
func fuzzEndpoint() *Endpoint {
	ep := testEndpoint(nil, map[string]func(context.Context, *Request) (*etree.Element, error){
		"Run": func(_ context.Context, r *Request) (*etree.Element, error) { return r.Body, nil },
		"Suspend": func(_ context.Context, r *Request) (*etree.Element, error) {
			return nil, NewFault(Sender, r.Body.Text(), QName{nsOf(r.Body), r.Body.Tag})
		},
		"Cancel": func(context.Context, *Request) (*etree.Element, error) { panic("boom") },
	})
	ep.Logger = slog.New(slog.DiscardHandler)
	ep.MaxBodyBytes = 8 << 10
	return ep
}

func addSeeds(f *testing.F) {
	f.Add([]byte(env11("", wrapper("Run"))), ct11, `"`+actionNS+`Run"`)
	f.Add([]byte(env12(wsa10(actionNS+"Suspend", "urn:1")+ctxOleTx, wrapper("Suspend"))), ct12, "")
	f.Add([]byte(env12(wsa10(actionNS+"Cancel", "urn:1")+replyToNonAnon, wrapper("Cancel"))), ct12+`; action="x"`, "")
	f.Add([]byte(utf16Bytes(env11("", wrapper("Run")), false, true)), "text/xml; charset=utf-16", "")
	f.Add([]byte(`<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>`), "application/xml", "")
	f.Add([]byte(`<s:Envelope xmlns:s="urn:x"/>`), ct12, "")
	// One request of every malformed class (hostile_test.go), and requests just past the limits.
	for _, m := range malformed {
		f.Add([]byte(m.body), m.ct, "")
	}
	f.Add([]byte(lit11("", `<Run xmlns="`+nsWS+`">`+strings.Repeat("<x>", 62)+strings.Repeat("</x>", 62)+`</Run>`)), ct11, "")
	f.Add([]byte(lit11("", `<Run xmlns="`+nsWS+`"`+strings.Repeat(` a="1"`, 257)+`/>`)), ct11, "")
	f.Add([]byte(lit11(`<h xmlns="urn:h">`+strings.Repeat("<b/>", 8192)+`</h>`, wrapper("Run"))), ct11, "")
	f.Add([]byte(lit12(`<x:A s:mustUnderstand="true" s:role="http://www.w3.org/2003/05/soap-envelope/role/next" xmlns:x="urn:x"/>`, wrapper("Run"))), ct12, "")
	f.Add([]byte(lit12(`<x:A s:mustUnderstand="true" s:role="http://www.w3.org/2003/05/soap-envelope/role/none" xmlns:x="urn:x"/>`, wrapper("Run"))), ct12, "")
	for _, dir := range []string{capturesDir} {
		files, _ := filepath.Glob(filepath.Join(dir, "*", "*", "*.request.http"))
		for _, fn := range files {
			raw, err := os.ReadFile(fn)
			if err != nil {
				continue
			}
			req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
			if err != nil {
				continue
			}
			body, _ := io.ReadAll(req.Body)
			f.Add(body, req.Header.Get("Content-Type"), req.Header.Get("SOAPAction"))
		}
		if len(files) > 0 {
			break
		}
	}
}

// FuzzEndpoint: whatever arrives, the endpoint never panics and answers either a plain HTTP
// error (400/413/415) or a well-formed SOAP envelope: 200 without a fault, 500 with one.
func FuzzEndpoint(f *testing.F) {
	addSeeds(f)
	ep := fuzzEndpoint()
	f.Fuzz(func(t *testing.T, body []byte, ct, soapAction string) {
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.Header.Set("Content-Type", strings.ToValidUTF8(ct, ""))
		if soapAction != "" {
			req.Header.Set("SOAPAction", soapAction)
		}
		w := httptest.NewRecorder()
		ep.ServeHTTP(w, req)
		switch w.Code {
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
			return
		case http.StatusOK, http.StatusInternalServerError:
		default:
			t.Fatalf("status %d", w.Code)
		}
		// The reply may echo the request's body, with the namespace declarations it inherited
		// copied onto it, so it is read without the request limits (but as strictly otherwise).
		env, v, err := parseEnvelope(w.Body.Bytes(), w.Header().Get("Content-Type"), limits{})
		if err != nil {
			t.Fatalf("reply not a SOAP envelope: %v\n%q", err, w.Body.String())
		}
		if w.Header().Get("Content-Type") != v.ContentType() {
			t.Fatalf("Content-Type %q for %v", w.Header().Get("Content-Type"), v)
		}
		fault, ferr := ParseFault(env)
		if (w.Code == 500) != (ferr == nil) {
			t.Fatalf("status %d, ParseFault err %v\n%s", w.Code, ferr, w.Body.String())
		}
		if fault != nil && fault.Code == Receiver && strings.Contains(w.Body.String(), "boom") {
			t.Fatalf("panic text leaked")
		}
	})
}

// FuzzParseEnvelope: the parser never panics, and a parsed envelope re-marshals into an
// envelope that parses again with the same version.
func FuzzParseEnvelope(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte, ct, _ string) {
		env, v, err := ParseEnvelope(data, ct)
		if err != nil {
			return
		}
		ns := v.Namespace()
		m := &Message{Version: v}
		if b := child(env, ns, "Body"); b != nil {
			if cs := b.ChildElements(); len(cs) > 0 {
				m.Body = cs[0]
			}
		}
		if h := child(env, ns, "Header"); h != nil {
			m.Headers = h.ChildElements()
		}
		out := m.Marshal()
		// Copies carry the namespace declarations they inherited, so a copy can have more
		// attributes than its original: the limits are for requests, not for this round trip.
		if _, v2, err := parseEnvelope(out, "", limits{}); err != nil || v2 != v {
			t.Fatalf("re-marshalled envelope unreadable (%v, %v):\n%s", err, v2, out)
		}
		_, _ = ParseFault(env)
	})
}
