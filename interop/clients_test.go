package interop

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wimp-project/wimp/internal/testserver"
)

var (
	//go:embed mono/WfimDriver.cs
	monoSource []byte
	//go:embed zeep/wfim_zeep.py
	zeepSource []byte
)

// Result is one output line of a client driver: the union of what the Mono
// and zeep drivers print.
type Result struct {
	Seq     int    `json:"seq"`
	Outcome string `json:"outcome"` // ok, fault, error
	Reason  string `json:"reason"`
	// Mono: FaultException.Code and Code.SubCode.
	IsSender    bool   `json:"isSender"`
	IsReceiver  bool   `json:"isReceiver"`
	CodeName    string `json:"codeName"`
	CodeNs      string `json:"codeNs"`
	SubcodeName string `json:"subcodeName"`
	SubcodeNs   string `json:"subcodeNs"`
	// zeep: Fault.code (raw text; CodeNs/CodeName hold it resolved) and Fault.subcodes.
	Code     string `json:"code"`
	Subcodes []struct {
		NS   string `json:"ns"`
		Name string `json:"name"`
	} `json:"subcodes"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
}

// client is one third-party SOAP client and the bindings it is driven over.
type client struct {
	name     string
	bindings []string
	soap12   map[string]bool                                               // bindings that speak SOAP 1.2
	prepare  func(t *testing.T) string                                     // checks/compiles; returns a description
	run      func(endpoint string, calls []Call) ([]Result, string, error) // results, stderr
}

var monoClient = &client{
	name:     "mono",
	bindings: []string{"basic", "wshttp", "custom12", "custom11wsa"},
	soap12:   map[string]bool{"wshttp": true, "custom12": true},
	prepare:  prepareMono,
	run:      runMono,
}

var zeepClient = &client{
	name:     "zeep",
	bindings: []string{"soap11", "soap12"},
	soap12:   map[string]bool{"soap12": true},
	prepare:  prepareZeep,
	run:      runZeep,
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
	monoOnce.Do(func() {
		dir := filepath.Join(binDir, "mono")
		if monoErr = os.MkdirAll(dir, 0o755); monoErr != nil {
			return
		}
		src := filepath.Join(dir, "WfimDriver.cs")
		if monoErr = os.WriteFile(src, monoSource, 0o644); monoErr != nil {
			return
		}
		monoExe = filepath.Join(dir, "WfimDriver.exe")
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, mcs, "-nologo", "-warnaserror", "-out:"+monoExe,
			"-r:System.ServiceModel", "-r:System.Runtime.Serialization", src).CombinedOutput()
		if err != nil {
			monoErr = fmt.Errorf("mcs: %v\n%s", err, out)
		}
		monoPath = mono
	})
	if monoErr != nil {
		if strings.Contains(monoErr.Error(), "System.ServiceModel") {
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

func runMono(endpoint string, calls []Call) ([]Result, string, error) {
	return runDriver(exec.Command(monoPath, "--debug", monoExe, endpoint), calls)
}

func runZeep(endpoint string, calls []Call) ([]Result, string, error) {
	dir, err := os.MkdirTemp(binDir, "zeep-")
	if err != nil {
		return nil, "", err
	}
	script := filepath.Join(dir, "wfim_zeep.py")
	if err := os.WriteFile(script, zeepSource, 0o644); err != nil {
		return nil, "", err
	}
	return runDriver(exec.Command(zeepPy, script, endpoint), calls)
}

// runDriver feeds calls as JSON lines to a driver process and reads one
// result line per call.
func runDriver(cmd *exec.Cmd, calls []Call) ([]Result, string, error) {
	var in bytes.Buffer
	enc := json.NewEncoder(&in)
	enc.SetEscapeHTML(false)
	for _, c := range calls {
		if err := enc.Encode(c); err != nil {
			return nil, "", err
		}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = &in, &stdout, &stderr
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return nil, stderr.String(), fmt.Errorf("%s: %v", cmd.Path, err)
		}
	case <-time.After(15 * time.Minute):
		_ = cmd.Process.Kill()
		<-done
		return nil, stderr.String(), fmt.Errorf("%s: timed out", cmd.Path)
	}
	var res []Result
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var r Result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, stderr.String(), fmt.Errorf("driver output %q: %v", sc.Text(), err)
		}
		res = append(res, r)
	}
	if len(res) != len(calls) {
		return res, stderr.String(), fmt.Errorf("driver answered %d of %d calls", len(res), len(calls))
	}
	return res, stderr.String(), nil
}

// checkOutcome compares what the client reported with the expected outcome;
// "" means it matches.
func (c *client) checkOutcome(binding string, w want, r Result) string {
	if r.Outcome == "error" {
		return fmt.Sprintf("client error %s: %s", r.ErrorType, firstLine(r.Error))
	}
	if w.fault == "" {
		if r.Outcome != "ok" {
			return "want success, got " + describe(r)
		}
		return ""
	}
	if r.Outcome != "fault" {
		return fmt.Sprintf("want fault %s, got %s", w.fault, r.Outcome)
	}
	if strings.TrimSpace(r.Reason) == "" {
		return "fault without reason text: " + describe(r)
	}
	// What the client must report: over SOAP 1.2 the Sender code with the
	// subcode; over SOAP 1.1 the faultcode, which is the subcode's QName (WCF's
	// convention) or soap:Client for a Sender fault without subcode.
	var codeNs, codeName, subNs, subName string
	faultNS := w.faultNS
	if faultNS == "" {
		faultNS = nsWorkflowServices
	}
	switch {
	case c.soap12[binding]:
		codeNs, codeName = nsSOAP12Env, "Sender"
		if w.fault != wantSender {
			subNs, subName = faultNS, w.fault
		}
	case w.fault == wantSender:
		codeNs, codeName = nsSOAP11Env, "Client"
	default:
		codeNs, codeName = faultNS, w.fault
	}
	gotSubNs, gotSubName := r.SubcodeNs, r.SubcodeName
	if c.name == "zeep" {
		if len(r.Subcodes) > 1 {
			return "nested subcodes: " + describe(r)
		}
		if len(r.Subcodes) == 1 {
			gotSubNs, gotSubName = r.Subcodes[0].NS, r.Subcodes[0].Name
		}
	}
	if r.CodeNs != codeNs || r.CodeName != codeName || gotSubNs != subNs || gotSubName != subName {
		return fmt.Sprintf("want code {%s}%s subcode {%s}%s, got %s", codeNs, codeName, subNs, subName, describe(r))
	}
	if c.name == "mono" && c.soap12[binding] && !r.IsSender {
		return "FaultException.Code.IsSenderFault is false: " + describe(r)
	}
	return ""
}

func describe(r Result) string {
	switch r.Outcome {
	case "ok":
		return "success"
	case "fault":
		s := fmt.Sprintf("fault code {%s}%s", r.CodeNs, r.CodeName)
		if r.SubcodeName != "" {
			s += fmt.Sprintf(" subcode {%s}%s", r.SubcodeNs, r.SubcodeName)
		}
		for _, sc := range r.Subcodes {
			s += fmt.Sprintf(" subcode {%s}%s", sc.NS, sc.Name)
		}
		return s + fmt.Sprintf(" reason %q", r.Reason)
	}
	return fmt.Sprintf("%s %s %s", r.Outcome, r.ErrorType, firstLine(r.Error))
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
