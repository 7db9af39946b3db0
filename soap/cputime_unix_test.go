//go:build unix

package soap

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time this process has used (all threads: the parser's and the garbage
// collector's). Unlike wall time it does not grow when other processes take the machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return time.Duration(time.Now().UnixNano())
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
