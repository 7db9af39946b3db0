package harness

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wimp-project/wimp/hosting"
	"github.com/wimp-project/wimp/internal/testserver"
	"github.com/wimp-project/wimp/soap"
)

var longFlag = flag.Bool("long", false, "run the harness with its long-mode numbers (also WIMP_HARNESS_LONG=1)")

var serverBin string

func TestMain(m *testing.M) {
	var ctlBin string // unused: the harness drives the server with its own clients
	testserver.RunWithBinaries(m, &serverBin, &ctlBin)
}

// sizes are the harness's numbers: CI-sized by default, bigger in the long mode.
type sizes struct {
	long bool

	crashCycles    int
	crashInstances int // live instances at the start of each cycle
	crashWorkers   int
	crashRunMin    time.Duration // load before a kill: uniformly in [min, max)
	crashRunMax    time.Duration

	contentionClients   int
	contentionInstances int
	contentionFor       time.Duration

	sigtermCycles    int
	sigtermInstances int
	sigtermWorkers   int
}

func harnessSizes() sizes {
	sz := baseSizes()
	if v, err := strconv.Atoi(os.Getenv("WIMP_HARNESS_CONTENTION_CLIENTS")); err == nil {
		sz.contentionClients = v
	}
	if v, err := time.ParseDuration(os.Getenv("WIMP_HARNESS_CONTENTION_FOR")); err == nil {
		sz.contentionFor = v
	}
	return sz
}

func baseSizes() sizes {
	if *longFlag || os.Getenv("WIMP_HARNESS_LONG") == "1" {
		return sizes{long: true,
			crashCycles: 25, crashInstances: 64, crashWorkers: 32, crashRunMin: 200 * time.Millisecond, crashRunMax: 3 * time.Second,
			contentionClients: 64, contentionInstances: 4, contentionFor: 60 * time.Second,
			sigtermCycles: 6, sigtermInstances: 32, sigtermWorkers: 24}
	}
	return sizes{
		crashCycles: 5, crashInstances: 24, crashWorkers: 16, crashRunMin: 300 * time.Millisecond, crashRunMax: 2 * time.Second,
		contentionClients: 64, contentionInstances: 4, contentionFor: 8 * time.Second,
		sigtermCycles: 2, sigtermInstances: 16, sigtermWorkers: 16}
}

// seed is the random seed of a test (WIMP_HARNESS_SEED, or a fresh one), logged so that a run's
// random choices can be repeated.
func seed(t *testing.T) *rand.Rand {
	s := rand.Uint64()
	if v := os.Getenv("WIMP_HARNESS_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("WIMP_HARNESS_SEED=%q: %v", v, err)
		}
		s = n
	}
	t.Logf("seed %d (WIMP_HARNESS_SEED=%d repeats the random choices)", s, s)
	return rand.New(rand.NewPCG(s, 0x5eed))
}

// server is a series of wimp-server processes over one database.
type server struct{ *testserver.Series }

// startServer starts wimp-server over dir/wimp.db (dir "" = a new temporary directory) with the
// flags flags returns (called at every start, so restarts may vary them).
func startServer(t testing.TB, dir string, flags func() []string) *server {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	return &server{testserver.NewSeries(t, serverBin, dir, flags)}
}

// clients of the current process. Each call makes a new HTTP transport, so each worker has
// connections of its own.
func (s *server) clients(timeout time.Duration) *clients {
	hc := &http.Client{Timeout: timeout, Transport: &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 4,
		DisableCompression:  true,
	}}
	h := hosting.NewClient(s.URL + "/WorkflowHosting")
	h.SOAP.HTTP = hc
	return &clients{hc: hc, base: s.URL, hosting: h,
		control: &soap.Client{HTTP: hc, URL: s.URL + "/WorkflowControl", Version: soap.V11}}
}

type clients struct {
	hc      *http.Client
	base    string
	hosting *hosting.Client
	control *soap.Client
}

func (c *clients) close() { c.hc.CloseIdleConnections() }

// healthz returns /healthz's status and body.
func (c *clients) healthz() (int, string, error) {
	resp, err := c.hc.Get(c.base + "/healthz")
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b)), nil
}

// waitHealth polls /healthz until it answers want (200 or 503) or within passes; it returns the
// time it took and the last body.
func (c *clients) waitHealth(t testing.TB, want int, within time.Duration) (time.Duration, string) {
	t.Helper()
	start := time.Now()
	var last string
	for {
		code, body, err := c.healthz()
		last = fmt.Sprintf("%d %q (%v)", code, body, err)
		if err == nil && code == want {
			return time.Since(start), body
		}
		if time.Since(start) > within {
			t.Fatalf("/healthz did not answer %d within %v; last: %s", want, within, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// notSent reports whether err shows that the request never reached a server (the connection
// was refused), so it cannot have had any effect.
func notSent(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED)
}

// randDuration is uniform in [0, d).
func randDuration(rng *rand.Rand, d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(rng.Int64N(int64(d)))
}
