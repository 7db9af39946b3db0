package harness

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// tcpProxy relays TCP connections from its own loopback address to a target: the partition
// test puts it between a node and PostgreSQL and stops it to cut that node off.
type tcpProxy struct {
	target string
	ln     net.Listener

	mu      sync.Mutex
	stopped bool
	conns   map[net.Conn]struct{}
	wg      sync.WaitGroup
}

// startProxy listens on addr ("127.0.0.1:0" for a free port) and relays to target until
// Stop, which also runs when t ends.
func startProxy(t testing.TB, addr, target string) (*tcpProxy, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	p := &tcpProxy{target: target, ln: ln, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Stop)
	return p, nil
}

// Addr is the proxy's listening address (host:port).
func (p *tcpProxy) Addr() string { return p.ln.Addr().String() }

func (p *tcpProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // Stop closed the listener
		}
		p.wg.Add(1)
		go p.relay(c)
	}
}

// relay copies both ways between c and a new connection to the target; when either side
// ends, both are closed (PostgreSQL's protocol has no use for half-closed connections).
func (p *tcpProxy) relay(c net.Conn) {
	defer p.wg.Done()
	if !p.track(c) {
		return
	}
	defer p.untrack(c)
	u, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		return
	}
	if !p.track(u) {
		return
	}
	defer p.untrack(u)
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(u, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, u); done <- struct{}{} }()
	<-done
	_ = c.Close()
	_ = u.Close()
	<-done
}

// track registers a live connection; after Stop it closes it instead and reports false.
func (p *tcpProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		_ = c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *tcpProxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	_ = c.Close()
}

// Stop closes the listener (new connections are refused) and every live connection, and
// waits for the relays to end. It may be called more than once.
func (p *tcpProxy) Stop() {
	p.mu.Lock()
	if !p.stopped {
		p.stopped = true
		_ = p.ln.Close()
		for c := range p.conns {
			_ = c.Close()
		}
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// relisten starts a proxy on addr again, retrying for a while (the port is free again once the
// old listener is closed, but a connection of the same port may linger).
func relisten(t *testing.T, addr, target string, within time.Duration) error {
	var err error
	pollUntil(time.Now().Add(within), func() bool {
		_, err = startProxy(t, addr, target)
		return err == nil
	})
	return err
}

// stop ends node i gracefully.
func (c *cluster) stop(i int) {
	c.mu.Lock()
	c.urls[i] = ""
	c.mu.Unlock()
	c.nodes[i].Stop()
}

func sinceOrNever(at, from time.Time) string {
	if at.IsZero() {
		return "never"
	}
	return at.Sub(from).Round(time.Millisecond).String()
}
