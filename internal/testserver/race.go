//go:build race

package testserver

// Race reports whether this binary was built with -race; the test binaries that call
// RunWithBinaries then build the server under test with -race too.
const Race = true
