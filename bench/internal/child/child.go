// Package child runs wimp-server as a child process for the benchmark programs under bench/.
package child

import (
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"time"
)

// StartServer picks a free loopback port, starts the wimp-server binary bin on it (log level
// warn, its log on this process's stderr) with args, and waits until /healthz answers 200; it
// returns the process and the server's base URL.
func StartServer(bin string, args ...string) (*exec.Cmd, string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	cmd := exec.Command(bin, append([]string{"--listen", addr, "--log-level", "warn"}, args...)...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	base := "http://" + addr
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return cmd, base, nil
			}
		}
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	return nil, "", errors.New("wimp-server did not answer /healthz on " + addr + " within 30 s")
}
