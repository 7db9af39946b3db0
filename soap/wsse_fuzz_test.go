package soap

import (
	"testing"
	"time"
)

// FuzzReadSecurity: any header parses into a Security (a UsernameToken always with a user name)
// or is refused with an InvalidSecurity fault; the Timestamp check never panics.
func FuzzReadSecurity(f *testing.F) {
	const ns = `xmlns:o="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" ` +
		`xmlns:u="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"`
	for _, s := range []string{
		`<o:Security ` + ns + `><o:UsernameToken><o:Username>ada</o:Username><o:Password>pw</o:Password></o:UsernameToken></o:Security>`,
		`<o:Security ` + ns + `><u:Timestamp><u:Created>2026-01-01T00:00:00Z</u:Created><u:Expires>2026-01-01T00:05:00.123Z</u:Expires></u:Timestamp></o:Security>`,
		`<o:Security ` + ns + `><o:UsernameToken/><o:UsernameToken/></o:Security>`,
		`<o:Security ` + ns + `/><o:Security ` + ns + `/>`,
		`<o:Security ` + ns + ` s:actor="urn:other" xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"/>`,
		`<o:Security ` + ns + `><u:Timestamp><u:Created>not a time</u:Created></u:Timestamp></o:Security>`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		root, err := parseXML([]byte(`<Header>`+header+`</Header>`), requestLimits)
		if err != nil {
			return
		}
		sec, fault := readSecurity(V11, root)
		if fault != nil {
			if len(fault.Subcodes) != 1 || fault.Subcodes[0] != InvalidSecurity {
				t.Fatalf("a refusal that is not InvalidSecurity: %+v", fault)
			}
			return
		}
		if sec == nil {
			return
		}
		if sec.Username != nil && sec.Username.Username == "" {
			t.Fatalf("a UsernameToken without a name: %q", header)
		}
		_ = sec.CheckTimestamp(time.Now(), 5*time.Minute)
	})
}
