package gsoap

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wimp-project/wimp/internal/testserver"
	"github.com/wimp-project/wimp/interop/interoptest"
)

// aptPackages provide wsdl2h and soapcpp2 (gsoap), stdsoap2.h and libgsoap++
// (libgsoap-dev), and the C++ compiler.
const aptPackages = "gsoap libgsoap-dev g++"

// Class names fixed by the wsdl2h options below: -Nwfim makes one service
// (one proxy class) per WSDL binding; the typemap binds the schema prefixes.
const (
	soap11Proxy = "DefaultBinding_USCOREIWorkflowInstanceManagement" // the spec's SOAP 1.1 binding
	soap12Proxy = "Soap12Binding_USCOREIWorkflowInstanceManagement"  // wimp's added SOAP 1.2 binding
)

// typemapPrefixes are appended to gSOAP's default typemap.dat so that the
// generated names are stable (_wfs__Run, wfa__WorkflowIdentity) instead of
// wsdl2h's numbered ns1, ns2, … prefixes.
const typemapPrefixes = `
wfs = "http://schemas.datacontract.org/2008/10/WorkflowServices"
wfa = "http://schemas.datacontract.org/2004/07/System.Activities"
`

// toolchain is what the test needs from gSOAP and the system.
type toolchain struct {
	wsdl2h, soapcpp2, cxx string
	share                 string // gSOAP's share directory: import/, WS/typemap.dat
}

// findToolchain locates wsdl2h, soapcpp2, g++, gSOAP's share directory and
// checks that a program including stdsoap2.h links with -lgsoap++; anything
// missing skips the test (or fails it under WIMP_REQUIRE_INTEROP=1).
func findToolchain(t *testing.T) toolchain {
	t.Helper()
	tc := toolchain{
		wsdl2h:   testserver.LookTool(t, "wsdl2h", "wsdl2h (Debian package gsoap)", aptPackages),
		soapcpp2: testserver.LookTool(t, "soapcpp2", "soapcpp2 (Debian package gsoap)", aptPackages),
		cxx:      testserver.LookTool(t, "g++", "g++ (Debian package g++)", aptPackages),
		share:    testserver.GSOAPShare(),
	}
	if tc.share == "" {
		testserver.MissingClient(t, "gSOAP's import/soap12.h and WS/typemap.dat (Debian package gsoap; or set WIMP_GSOAP_SHARE)", aptPackages)
	}
	// stdsoap2.h: a translation unit including it compiles. libgsoap++: the
	// compiler's library search path has it (it only links together with
	// soapcpp2's generated code).
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "probe.cpp"), []byte("#include <stdsoap2.h>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := run(dir, tc.cxx, "-fsyntax-only", "probe.cpp"); err != nil {
		testserver.MissingClient(t, fmt.Sprintf("stdsoap2.h (Debian package libgsoap-dev): %v: %s", err, interoptest.FirstLines(out, 5)), aptPackages)
	}
	found := false
	for _, lib := range []string{"libgsoap++.so", "libgsoap++.a"} {
		out, err := run(dir, tc.cxx, "-print-file-name="+lib)
		if p := strings.TrimSpace(out); err == nil && filepath.IsAbs(p) && testserver.FileExists(p) {
			found = true
			break
		}
	}
	if !found {
		testserver.MissingClient(t, "libgsoap++ (Debian package libgsoap-dev)", aptPackages)
	}
	return tc
}

// run runs name args... in dir with a two-minute limit and returns its
// combined output.
func run(dir, name string, args ...string) (string, error) {
	return testserver.RunTool(dir, 2*time.Minute, name, args...)
}

// generated is the result of buildDriver.
type generated struct {
	driver string            // the linked client
	nsmap  map[string]string // gSOAP's namespace table: prefix → URI
	log    []string          // what each step did, for t.Log
}

// buildDriver generates the gSOAP client from wsdlURL in dir and links it
// with driver.cpp:
//
//	wsdl2h -t typemap.dat -Nwfim -o wfim.h URL
//	soapcpp2 -C -j -x -I SHARE/import wfim.h
//	g++ -c soapC.cpp soap*Proxy.cpp driver.cpp; g++ -o driver *.o -lgsoap++
//
// serviceURL is the address both generated services must carry.
func buildDriver(tc toolchain, dir, wsdlURL, serviceURL string) (*generated, error) {
	g := &generated{}
	start := time.Now()
	typemap, err := os.ReadFile(filepath.Join(tc.share, "WS", "typemap.dat"))
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "typemap.dat"), append(typemap, typemapPrefixes...), 0o644); err != nil {
		return nil, err
	}
	out, err := run(dir, tc.wsdl2h, "-t", "typemap.dat", "-Nwfim", "-o", "wfim.h", wsdlURL)
	if err != nil {
		return nil, fmt.Errorf("%v\n%s", err, out)
	}
	for _, l := range strings.Split(out, "\n") {
		if ll := strings.ToLower(l); strings.Contains(ll, "error") || strings.Contains(ll, "warning") {
			return nil, fmt.Errorf("wsdl2h reported: %s\n%s", strings.TrimSpace(l), out)
		}
	}
	h, err := os.ReadFile(filepath.Join(dir, "wfim.h"))
	if err != nil {
		return nil, err
	}
	// One service per binding, both at the server's address.
	for _, svc := range []string{soap11Proxy, soap12Proxy} {
		re := regexp.MustCompile(`//gsoap (wfim\d*) +service name:\s+` + svc + `\s*\n//gsoap wfim\d* +service type:\s+IWorkflowInstanceManagement\s*\n` +
			`//gsoap wfim\d* +service port:\s+` + regexp.QuoteMeta(serviceURL) + `\s*\n`)
		if !re.Match(h) {
			return nil, fmt.Errorf("wfim.h has no service %s at %s", svc, serviceURL)
		}
	}
	g.log = append(g.log, fmt.Sprintf("wsdl2h -t typemap.dat -Nwfim -o wfim.h %s: %d bytes", wsdlURL, len(h)))

	out, err = run(dir, tc.soapcpp2, "-C", "-j", "-x", "-I"+filepath.Join(tc.share, "import"), "wfim.h")
	if err != nil || !strings.Contains(out, "Compilation successful") {
		return nil, fmt.Errorf("soapcpp2: %v\n%s", err, out)
	}
	g.log = append(g.log, "soapcpp2 -C -j -x -I"+filepath.Join(tc.share, "import")+" wfim.h: Compilation successful")

	// The namespace table the proxies use, to resolve the QNames gSOAP reports.
	nsmap, err := os.ReadFile(filepath.Join(dir, soap11Proxy+".nsmap"))
	if err != nil {
		return nil, err
	}
	g.nsmap = map[string]string{}
	for _, m := range regexp.MustCompile(`\{\s*"([^"]+)",\s*"([^"]*)"`).FindAllStringSubmatch(string(nsmap), -1) {
		g.nsmap[m[1]] = m[2]
	}
	if g.nsmap["wfs"] != interoptest.NSWorkflowServices {
		return nil, fmt.Errorf("%s.nsmap binds wfs to %q, want %s:\n%s", soap11Proxy, g.nsmap["wfs"], interoptest.NSWorkflowServices, nsmap)
	}

	driverSrc, err := os.ReadFile(filepath.Join("testdata", "driver.cpp"))
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "driver.cpp"), driverSrc, 0o644); err != nil {
		return nil, err
	}
	units := []string{"soapC.cpp", "soap" + soap11Proxy + "Proxy.cpp", "soap" + soap12Proxy + "Proxy.cpp", "driver.cpp"}
	errs := make([]error, len(units))
	var wg sync.WaitGroup
	for i, u := range units {
		wg.Add(1)
		go func() {
			defer wg.Done()
			args := []string{"-O0", "-I.", "-c", u, "-o", strings.TrimSuffix(u, ".cpp") + ".o"}
			if u == "driver.cpp" {
				args = append([]string{"-Wall", "-Werror"}, args...)
			}
			if out, err := run(dir, tc.cxx, args...); err != nil {
				errs[i] = fmt.Errorf("%v\n%s", err, interoptest.FirstLines(out, 40))
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	link := []string{"-o", "driver"}
	for _, u := range units {
		link = append(link, strings.TrimSuffix(u, ".cpp")+".o")
	}
	if out, err := run(dir, tc.cxx, append(link, "-lgsoap++")...); err != nil {
		return nil, fmt.Errorf("%v\n%s", err, interoptest.FirstLines(out, 40))
	}
	g.driver = filepath.Join(dir, "driver")
	g.log = append(g.log, fmt.Sprintf("g++ %s + driver.cpp -lgsoap++: built in %v (wsdl2h to link)",
		strings.Join(units[:3], " "), time.Since(start).Round(time.Millisecond)))
	return g, nil
}
