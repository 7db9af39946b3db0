// Package interop drives real third-party SOAP clients against a running
// wimp-server and checks what those clients report.
//
// The clients live here as source and are built by the tests:
//
//   - mono/WfimDriver.cs: Mono's WCF client (System.ServiceModel
//     ChannelFactory<T>) over a contract declared as .NET declares
//     IWorkflowInstanceManagement / IWorkflowUpdateableInstanceManagement,
//     through BasicHttpBinding (SOAP 1.1), WSHttpBinding with security None
//     (SOAP 1.2 + WS-Addressing 1.0), and CustomBindings with text encoding
//     MessageVersion.Soap12WSAddressing10 and Soap11WSAddressing10. Compiled
//     with mcs, run with mono.
//   - zeep/wfim_zeep.py: python3-zeep loading the server's own ?wsdl and
//     calling through its SOAP 1.1 and SOAP 1.2 ports.
//
// Both are small drivers: they read calls as JSON lines on stdin and print
// one JSON line per call with the outcome (ok, or the fault's code, subcode
// and reason as the client library exposes them), so one process runs
// hundreds of calls.
//
// The tests (go test -v ./interop) build ./cmd/wimp-server and ./cmd/wimpctl,
// start the server on a free port with a temporary database, create
// instances in every state with wimpctl, run every operation through every
// client binding in every relevant state, and assert the client-reported
// outcome and the instance's state afterwards (wimpctl get --json).
//
// Requirements (Debian): mono-mcs mono-runtime
// libmono-system-servicemodel4.0a-cil python3-zeep. Without them the tests
// skip with that hint; WIMP_REQUIRE_INTEROP=1 turns a missing client into a
// failure (CI sets it).
package interop
