//go:build !race

package testserver

// Race reports whether this binary was built with -race.
const Race = false
