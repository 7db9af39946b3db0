package soap

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// capturesDir is the repository's byte-exact copy of the shared client captures (with their
// manifest), kept in testdata by conformance/cmd/genexchanges.
const capturesDir = "../testdata/captures"

type captureCase struct {
	Client      string  `json:"client"`
	Binding     string  `json:"binding"`
	Case        string  `json:"case"`
	Op          string  `json:"op"`
	File        string  `json:"request_file"`
	SOAPVersion string  `json:"soap_version"`
	WSANS       *string `json:"wsa_ns"`
}

func captureDir(t *testing.T) string {
	for _, d := range []string{os.Getenv("WIMP_CAPTURES"), capturesDir} {
		if d == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "manifest.json")); err == nil {
			return d
		}
	}
	t.Fatalf("the repository's captures are missing: no %s/manifest.json", capturesDir)
	return ""
}

// TestCaptures replays every real client request: it must parse, resolve to the manifest's
// operation and version, and be answered 200 with the reply action (when WS-A is used).
func TestCaptures(t *testing.T) {
	dir := captureDir(t)
	mb, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []captureCase
	if err := json.Unmarshal(mb, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatal("empty manifest")
	}
	for _, c := range cases {
		t.Run(c.Client+"/"+c.Binding+"/"+c.Case, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, c.File))
			if err != nil {
				t.Fatal(err)
			}
			req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
			if err != nil {
				t.Fatal(err)
			}
			rec := &recorder{}
			w := httptest.NewRecorder()
			testEndpoint(rec, nil).ServeHTTP(w, req)
			r := parseReply(t, w)
			if r.status != 200 || r.fault != nil {
				t.Fatalf("status %d, fault %+v\n%s", r.status, r.fault, r.raw)
			}
			got, _ := rec.get()
			if got.Action != actionNS+c.Op {
				t.Errorf("action %q, want %q", got.Action, actionNS+c.Op)
			}
			wantV := map[string]Version{"1.1": V11, "1.2": V12}[c.SOAPVersion]
			if got.Version != wantV || r.ver != wantV {
				t.Errorf("request version %v, reply version %v, want %v", got.Version, r.ver, wantV)
			}
			if got.Body == nil || got.Body.Tag != c.Op || nsOf(got.Body) != nsWS {
				t.Errorf("body wrapper wrong: %v", got.Body)
			}
			wantWSA := ""
			if c.WSANS != nil {
				wantWSA = *c.WSANS
			}
			if got.Addressing != wantWSA {
				t.Errorf("addressing %q, want %q", got.Addressing, wantWSA)
			}
			act, ok := r.header(wantWSA, "Action")
			if wantWSA == "" {
				if child(r.env, r.ver.Namespace(), "Header") != nil {
					t.Errorf("reply without WS-A has a Header:\n%s", r.raw)
				}
				return
			}
			if !ok || act.Text() != actionNS+c.Op+"Response" {
				t.Errorf("reply wsa:Action missing or wrong:\n%s", r.raw)
			}
			rel, ok := r.header(wantWSA, "RelatesTo")
			if got.MessageID == "" || !ok || rel.Text() != got.MessageID {
				t.Errorf("RelatesTo does not echo MessageID %q:\n%s", got.MessageID, r.raw)
			}
		})
	}
}
