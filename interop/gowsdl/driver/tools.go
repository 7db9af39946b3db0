//go:build tools

// The gowsdl generator is a dependency of this module, so that the test builds it with
// `go build github.com/hooklift/gowsdl/cmd/gowsdl` at the version go.mod pins.
package main

import _ "github.com/hooklift/gowsdl/cmd/gowsdl"
