package e2e

import (
	"bufio"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wimp-project/wimp/internal/testserver"
)

// SIGTERM with a client that sends half a request and then nothing: the server waits for it
// only until --shutdown-timeout, closes the connection, and exits with status 0.
func TestShutdownWithASlowClientEndsInTime(t *testing.T) {
	p, err := testserver.Start(serverBin, t.TempDir(), "--shutdown-timeout", "1s")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	conn, err := net.Dial("tcp", strings.TrimPrefix(p.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The headers promise a body of 1000 bytes and ask for 100-continue: the interim reply shows
	// the server is reading the request. Then 10 bytes arrive, and nothing more.
	if _, err := io.WriteString(conn, "POST /WorkflowControl HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\n"+
		"Expect: 100-continue\r\nContent-Length: 1000\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if line, err := bufio.NewReader(conn).ReadString('\n'); err != nil || !strings.HasPrefix(line, "HTTP/1.1 100") {
		t.Fatalf("no 100 Continue: %q %v", line, err)
	}
	if _, err := io.WriteString(conn, "<s:Envelop"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	case <-time.After(8 * time.Second):
		t.Fatalf("the server still runs 8s after SIGTERM with a 1s shutdown timeout; log:\n%s", p.Log())
	}
	if err := p.Err(); err != nil {
		t.Fatalf("the server exited with %v after SIGTERM, want status 0; log:\n%s", err, p.Log())
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("shutdown took %v with a 1s deadline", d)
	}
	if !strings.Contains(p.Log(), "closing the connections still open at the shutdown deadline") {
		t.Errorf("the log does not say the slow connection was closed:\n%s", p.Log())
	}
}
