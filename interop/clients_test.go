package interop

import (
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wimp-project/wimp/internal/testserver"
	"github.com/wimp-project/wimp/interop/interoptest"
)

var (
	//go:embed mono/WfimDriver.cs
	monoSource []byte
	//go:embed zeep/wfim_zeep.py
	zeepSource []byte
)

// Result is one output line of a client driver: the outcome the Mono driver
// prints (interoptest.Outcome), plus what zeep adds.
type Result struct {
	interoptest.Outcome
	// zeep: Fault.code (raw text; CodeNs/CodeName hold it resolved) and Fault.subcodes.
	Code     string `json:"code"`
	Subcodes []struct {
		NS   string `json:"ns"`
		Name string `json:"name"`
	} `json:"subcodes"`
}

// client is one third-party SOAP client and the bindings it is driven over.
type client struct {
	interoptest.Client
	what    string                                                            // for the SUMMARY line
	prepare func(t *testing.T) string                                         // checks/compiles; returns a description
	run     func(endpoint string, calls []interoptest.Call) ([]Result, error) // one result per call
}

// Mono's string-typed contract sends any id; its Guid-typed one writes lower case.
var monoClient = &client{
	Client: interoptest.Client{
		Name:     "mono",
		Bindings: []string{"basic", "wshttp", "custom12", "custom11wsa"},
		SOAP12:   map[string]bool{"wshttp": true, "custom12": true},
		AnyID:    true,
	},
	what:    "all 13 operations through Mono's WCF ChannelFactory over the hand-declared contract",
	prepare: prepareMono,
	run:     runMono,
}

// zeep can also leave a reason or identity out.
var zeepClient = &client{
	Client: interoptest.Client{
		Name:     "zeep",
		Bindings: []string{"soap11", "soap12"},
		SOAP12:   map[string]bool{"soap12": true},
		AnyID:    true,
		Absent:   true,
	},
	what:    "all 13 operations through zeep from ?wsdl",
	prepare: prepareZeep,
	run:     runZeep,
}

var (
	monoOnce sync.Once
	monoExe  string
	monoErr  error
	monoPath string // the mono runtime
	zeepPy   string // a python3 that imports zeep
)

func prepareMono(t *testing.T) string {
	t.Helper()
	mcs, err1 := exec.LookPath("mcs")
	mono, err2 := exec.LookPath("mono")
	if err1 != nil || err2 != nil {
		missingClient(t, "Mono (mcs and mono)")
	}
	var missingServiceModel bool
	monoOnce.Do(func() {
		dir := filepath.Join(binDir, "mono")
		if monoErr = os.MkdirAll(dir, 0o755); monoErr != nil {
			return
		}
		src := filepath.Join(dir, "WfimDriver.cs")
		if monoErr = os.WriteFile(src, monoSource, 0o644); monoErr != nil {
			return
		}
		monoExe, missingServiceModel, monoErr = interoptest.CompileCSharp(mcs, dir, "WfimDriver.exe", src)
		monoPath = mono
	})
	if monoErr != nil {
		if missingServiceModel {
			missingClient(t, "Mono's System.ServiceModel ("+monoErr.Error()+")")
		}
		t.Fatal(monoErr)
	}
	v, _ := exec.Command(mono, "--version").Output()
	return strings.SplitN(string(v), "\n", 2)[0]
}

func prepareZeep(t *testing.T) string {
	t.Helper()
	py, version, ok := testserver.ZeepPython()
	if !ok {
		missingClient(t, "python3 with zeep")
	}
	zeepPy = py
	return py + " with zeep " + version
}

func runMono(endpoint string, calls []interoptest.Call) ([]Result, error) {
	return runDriver(exec.Command(monoPath, "--debug", monoExe, endpoint), calls)
}

func runZeep(endpoint string, calls []interoptest.Call) ([]Result, error) {
	dir, err := os.MkdirTemp(binDir, "zeep-")
	if err != nil {
		return nil, err
	}
	script := filepath.Join(dir, "wfim_zeep.py")
	if err := os.WriteFile(script, zeepSource, 0o644); err != nil {
		return nil, err
	}
	return runDriver(exec.Command(zeepPy, script, endpoint), calls)
}

// runDriver feeds calls as JSON lines to a driver process and reads one
// result line per call.
func runDriver(cmd *exec.Cmd, calls []interoptest.Call) ([]Result, error) {
	in, err := interoptest.JSONLines(calls)
	if err != nil {
		return nil, err
	}
	res, _, err := interoptest.RunDriver[Result](cmd, in, len(calls), 15*time.Minute)
	return res, err
}

// checkOutcome compares what the client reported with the expected outcome;
// "" means it matches.
func (c *client) checkOutcome(binding string, w interoptest.Want, r Result) string {
	o := r.Outcome
	if c.Name == "zeep" {
		// zeep lists the subcodes; WFIM faults have at most one.
		if len(r.Subcodes) > 1 {
			return fmt.Sprintf("nested subcodes %+v: %s", r.Subcodes, o.Describe())
		}
		if len(r.Subcodes) == 1 {
			o.SubcodeNs, o.SubcodeName = r.Subcodes[0].NS, r.Subcodes[0].Name
		}
		return interoptest.Check(w, c.SOAP12[binding], o)
	}
	return interoptest.CheckWCF(w, c.SOAP12[binding], o)
}
