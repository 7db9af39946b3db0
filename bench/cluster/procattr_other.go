//go:build !linux

package main

import "syscall"

// dieWithParent: only Linux can tie a child's life to its parent's; elsewhere cleanup (on
// return, on an error, on SIGINT or SIGTERM) is all there is.
func dieWithParent() *syscall.SysProcAttr { return nil }
