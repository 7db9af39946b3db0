package soap

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// growthShape builds a request of size parameter n of one hostile shape.
type growthShape struct {
	name  string
	n     int // the smaller size; the larger is 8n
	build func(n int) string
}

func growthShapes() []growthShape {
	run := func(inner string) string {
		return `<Run xmlns="http://schemas.datacontract.org/2008/10/WorkflowServices"><instanceId>` + litID + `</instanceId>` + inner + `</Run>`
	}
	hdr := func(inner string) string {
		return `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:p="urn:p"><s:Header xmlns="urn:h">` + inner +
			`</s:Header><s:Body>` + run("") + `</s:Body></s:Envelope>`
	}
	attrs := func(n int, prefix string) string {
		var b strings.Builder
		for i := range n {
			b.WriteString(" " + prefix + "a" + strconv.Itoa(i) + `="v"`)
		}
		return b.String()
	}
	decls := func(n int) string {
		var b strings.Builder
		for i := range n {
			k := strconv.Itoa(i)
			b.WriteString("<p" + k + ":b xmlns:p" + k + `="urn:` + k + `"/>`)
		}
		return b.String()
	}
	spread := func(n int) string { // n prefixed attributes, 16 per header block
		var b strings.Builder
		for i := 0; i < n; i += 16 {
			b.WriteString("<b" + attrs(16, "p:") + "/>")
		}
		return b.String()
	}
	return []growthShape{
		// Within the limits: parsed completely.
		{"header blocks", 1000, func(n int) string { return hdr(strings.Repeat("<b/>", n)) }},
		{"attributes on one element", 32, func(n int) string { return lit11("", run("<x"+attrs(n, "p:")+` xmlns:p="urn:p"/>`)) }},
		{"prefixed attributes across blocks", 1024, func(n int) string { return hdr(spread(n)) }},
		{"namespace declarations", 500, func(n int) string { return hdr(decls(n)) }},
		{"header blocks under 250 declarations", 500, func(n int) string {
			var d strings.Builder
			for i := range 250 {
				fmt.Fprintf(&d, ` xmlns:d%d="urn:d%d"`, i, i)
			}
			return `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"` + d.String() + `><s:Header xmlns="urn:h">` +
				strings.Repeat(`<b s:mustUnderstand="0"/>`, n) + `</s:Header><s:Body>` + run("") + `</s:Body></s:Envelope>`
		}},
		{"header blocks marked mustUnderstand (a MustUnderstand fault naming each)", 500, func(n int) string {
			return `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header xmlns="urn:h">` +
				strings.Repeat(`<b s:mustUnderstand="true"/>`, n) + `</s:Header><s:Body>` + run("") + `</s:Body></s:Envelope>`
		}},
		{"deep nesting", 7, func(n int) string { return lit11("", run(strings.Repeat("<x>", n)+strings.Repeat("</x>", n))) }},
		{"long attribute value", 8 << 10, func(n int) string { return lit11("", run(`<x a="`+strings.Repeat("v", n)+`"/>`)) }},
		{"comments", 2000, func(n int) string { return lit11("", strings.Repeat("<!---->", n)+run("")) }},
		{"long text", 64 << 10, func(n int) string { return lit11("", run("<t>"+strings.Repeat("t", n)+"</t>")) }},
		// Past the limits: refused, at a cost that must not grow faster than the body.
		{"header blocks past MaxElements", 10_000, func(n int) string { return hdr(strings.Repeat("<b/>", n)) }},
		{"attributes past MaxAttributesPerElement", 12_500, func(n int) string { return lit11("", run("<x"+attrs(n, "p:")+` xmlns:p="urn:p"/>`)) }},
		{"prefixed attributes past MaxAttributes", 20_000, func(n int) string { return hdr(spread(n)) }},
		{"namespace declarations past MaxElements", 9_000, func(n int) string { return hdr(decls(n)) }},
		{"nesting past MaxDepth", 1000, func(n int) string { return lit11("", run(strings.Repeat("<x>", n)+strings.Repeat("</x>", n))) }},
		{"attribute value past MaxAttributeValueBytes", 128 << 10, func(n int) string { return lit11("", run(`<x a="`+strings.Repeat("v", n)+`"/>`)) }},
		{"comments past MaxNodes", 40_000, func(n int) string { return lit11("", strings.Repeat("<!---->", n)+run("")) }},
	}
}

// cost is the median time and allocated bytes of one request.
type cost struct {
	d     time.Duration
	bytes uint64
}

// measure serves the small and the large body alternately, reps rounds each of k and k/8
// requests (k chosen so a round takes a few milliseconds), and returns per request the least
// CPU time of the rounds (the process's CPU time, which other processes do not inflate; noise
// only ever adds to it, so the minimum is the most faithful) and the median allocation.
// Alternating the sizes exposes both to the same conditions.
func measure(ep *Endpoint, small, large []byte, k, reps int) (cs, cl cost) {
	serve := func(body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.Header.Set("Content-Type", "text/xml")
		req.Header.Set("SOAPAction", `"`+litAction+`Run"`)
		ep.ServeHTTP(httptest.NewRecorder(), req)
	}
	// The collector is off during a round: its cost follows the allocation, which is measured
	// (and bounded) separately, and a collection that falls in one round and not in another
	// would only add noise.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	round := func(body []byte, k int) cost {
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		t0 := cpuTime()
		for range k {
			serve(body)
		}
		d := (cpuTime() - t0) / time.Duration(k)
		runtime.ReadMemStats(&m1)
		return cost{d, (m1.TotalAlloc - m0.TotalAlloc) / uint64(k)}
	}
	summary := func(cs []cost) cost {
		ds := make([]time.Duration, len(cs))
		bs := make([]uint64, len(cs))
		for i, c := range cs {
			ds[i], bs[i] = c.d, c.bytes
		}
		slices.Sort(bs)
		return cost{slices.Min(ds), bs[len(bs)/2]}
	}
	var ss, ls []cost
	for range reps {
		ss = append(ss, round(small, k))
		ls = append(ls, round(large, max(1, k/8)))
	}
	return summary(ss), summary(ls)
}

// TestParseGrowth: for every hostile shape, a request 8 times larger costs at most 16 times the
// time and the allocation of the smaller one (linear, with room for noise; quadratic would be
// 64 times), and a request never allocates more than a constant times its body. The ratios are
// taken within one run, so the machine's speed does not matter.
func TestParseGrowth(t *testing.T) {
	const (
		maxRatio  = 16.0
		memFactor = 64      // bytes allocated per body byte, at most ...
		memSlack  = 4 << 20 // ... plus this (the DOM of a message at the element limit)
	)
	ep := testEndpoint(nil, nil)
	ep.MaxBodyBytes = 16 << 20
	for _, s := range growthShapes() {
		t.Run(s.name, func(t *testing.T) {
			small, large := []byte(s.build(s.n)), []byte(s.build(8*s.n))
			// Calibrate k on the small body: a round of k requests takes about 2 ms.
			c0, _ := measure(ep, small, small, 4, 1)
			k := max(1, int(2*time.Millisecond/max(c0.d, time.Microsecond)))
			cs, cl := measure(ep, small, large, k, 9)
			tr := float64(cl.d) / float64(max(cs.d, 1))
			br := float64(cl.bytes) / float64(max(cs.bytes, 1))
			t.Logf("n=%d: %d bytes %v %d B/op; 8n: %d bytes %v %d B/op; ratios time %.1f, bytes %.1f",
				s.n, len(small), cs.d, cs.bytes, len(large), cl.d, cl.bytes, tr, br)
			if tr > maxRatio {
				t.Errorf("time grows %.1f× for 8× the input (want ≤ %.0f×)", tr, maxRatio)
			}
			if br > maxRatio {
				t.Errorf("allocation grows %.1f× for 8× the input (want ≤ %.0f×)", br, maxRatio)
			}
			for _, c := range []struct {
				size int
				c    cost
			}{{len(small), cs}, {len(large), cl}} {
				if limit := uint64(memFactor*c.size + memSlack); c.c.bytes > limit {
					t.Errorf("%d-byte body allocated %d bytes (limit %d×body + %d = %d)", c.size, c.c.bytes, memFactor, memSlack, limit)
				}
			}
		})
	}
}
