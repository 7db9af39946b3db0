package main

import "syscall"

// dieWithParent makes the kernel kill a child if this program dies first (even by SIGKILL,
// when no cleanup runs), so that no server outlives the benchmark.
func dieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
