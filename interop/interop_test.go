package interop

import (
	"fmt"
	"testing"

	"github.com/wimp-project/wimp/interop/interoptest"
)

// TestMonoWCF drives every operation through Mono's WCF client over
// BasicHttpBinding, WSHttpBinding (security None), and CustomBindings with
// Soap12WSAddressing10 and Soap11WSAddressing10.
func TestMonoWCF(t *testing.T) { runClient(t, monoClient) }

// TestZeep drives every operation through zeep, from the server's own ?wsdl,
// over its SOAP 1.1 and SOAP 1.2 ports.
func TestZeep(t *testing.T) { runClient(t, zeepClient) }

func runClient(t *testing.T, c *client) {
	desc := c.prepare(t)
	s := sharedWimp(t)
	t.Logf("%s: %s; server %s", c.Name, desc, s.URL)
	ids := s.Identities(t)
	var cases []*interoptest.Case
	for _, b := range c.Bindings {
		cases = append(cases, interoptest.BuildCases(c.Client, b, ids)...)
	}
	interoptest.Run(t, s, c.Name, c.what, cases, func(cases []*interoptest.Case) ([]string, error) {
		calls := make([]interoptest.Call, len(cases))
		for i, tc := range cases {
			calls[i] = tc.Call(i + 1)
		}
		results, err := c.run(s.Control, calls)
		if err != nil {
			return nil, err
		}
		problems := make([]string, len(cases))
		for i, tc := range cases {
			if results[i].Seq != calls[i].Seq {
				problems[i] = fmt.Sprintf("result for seq %d, want %d", results[i].Seq, calls[i].Seq)
				continue
			}
			problems[i] = c.checkOutcome(tc.Binding, tc.Want, results[i])
		}
		return problems, nil
	})
}

// The clients make at least the calls they always did (mono 157 and zeep 169 per
// binding).
func TestCaseCounts(t *testing.T) {
	ids := interoptest.Identities{
		Expense:   interoptest.Identity{Name: "ExpenseApproval", Package: "wimp.samples", Version: "2.0.0.0"},
		Hello:     interoptest.Identity{Name: "Hello", Package: "wimp.samples", Version: "1.0.0.0"},
		ExpenseV1: interoptest.Identity{Name: "ExpenseApproval", Package: "wimp.samples", Version: "1.0.0.0"},
	}
	for _, c := range []struct {
		c   *client
		min int
	}{{monoClient, 157}, {zeepClient, 169}} {
		for _, b := range c.c.Bindings {
			cs := interoptest.BuildCases(c.c.Client, b, ids)
			if err := interoptest.CheckCoverage(cs); err != nil {
				t.Error(err)
			}
			if len(cs) < c.min {
				t.Errorf("%s %s: %d cases, want at least %d", c.c.Name, b, len(cs), c.min)
			}
		}
	}
}
