// Package svcutil checks that the published WSDL is consumable by .NET's svcutil as Mono
// implements it (Debian mono-devel: /usr/bin/svcutil, /usr/lib/mono/4.5/svcutil.exe).
//
// The test (go test -v ./interop/svcutil) builds and starts the real wimp-server, runs
// svcutil against the server's metadata URL to generate a C# proxy, compiles that proxy with
// mcs together with driver/SvcutilDriver.cs, and has the driver call every MS-WFIM operation
// through the generated WorkflowInstanceManagementClient over BasicHttpBinding (SOAP 1.1) and
// a SOAP 1.2 CustomBinding (the WSDL's two ports). The driver only reports what WCF saw: ok,
// or the FaultException's code and subcode. The test sets the instances up with wimpctl,
// asserts the outcome per docs/protocol.md (State table) and the instance's state afterwards
// (wimpctl get --json).
//
// Mono's svcutil specifics the test works with:
//
//   - It reads ?singleWsdl. From ?wsdl (the WSDL importing ?xsd=xsd0, which imports xsd1 and
//     xsd2, by schemaLocation, exactly as WCF publishes it) it writes an empty file and exits
//     0: Mono's WsdlImporter gets the schemas both as metadata sections (DISCO resolves the
//     imports) and again through the schemaLocation imports, and its schema compilation then
//     fails with "The global element '…:TransactedUnsuspend' has already been declared", which
//     svcutil drops silently. The test logs what ?wsdl gives, so a fixed Mono shows up.
//   - It writes no configuration file (Mono's Driver.cs: "FIXME: Generate .config"), so the
//     driver builds the bindings in code and passes them, with the endpoint address from its
//     command line, to the generated client's (Binding, EndpointAddress) constructor.
//
// Requirements (Debian): mono-devel (svcutil) plus mono-mcs, mono-runtime and
// libmono-system-servicemodel4.0a-cil. Without them the test skips with that hint;
// WIMP_REQUIRE_INTEROP=1 turns a missing tool into a failure.
package svcutil
