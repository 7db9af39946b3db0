package harness

import (
	"fmt"
	"math/rand/v2"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/wimp-project/wimp/store/postgres/pgtest"
)

// Node a reaches the database through a TCP proxy; b and c directly. a holds instances, some
// with timers, while clients call every node. The proxy is stopped: before a's lease can
// expire, a must answer /healthz with 503 and hold nothing (wimp_instances_loaded and
// wimp_leases_held 0), while b and c take over and fire a's timers, exactly once. The
// proxy comes back: a recovers by itself. The histories and records are checked as in the
// crash harness.
func TestClusterPartition(t *testing.T) {
	rng := seed(t)
	db := pgtest.Fresh(t)
	pg, err := url.Parse(db)
	if err != nil || pg.Host == "" {
		t.Fatalf("the partition test needs a postgres:// URL with a host:port to proxy, not %q (%v)", db, err)
	}
	proxy, err := startProxy(t, "127.0.0.1:0", pg.Host)
	if err != nil {
		t.Fatal(err)
	}
	viaProxy := func() string { u := *pg; u.Host = proxy.Addr(); return u.String() }
	defs := tickerDefinitions(t)
	cl := startCluster(t, []string{"a", "b", "c"}, func(name string) []string {
		if name == "a" {
			return nodeFlags(viaProxy(), name, defs)
		}
		return nodeFlags(db, name, defs)
	})
	const a = 0
	rec, led, st, p := newRecorder(), newLedger(), newStats(), newPool(0)
	l := &load{rec: rec, led: led, st: st, mix: crashMix, tgt: p, timeout: 15 * time.Second}

	// a's instances: created there (it runs them), with acknowledged changes of each kind.
	ca := cl.clients(a)
	defer ca.close()
	for i := 0; i < 8; i++ {
		id, o, err := l.create(ca, checker, 500+1000*(i%2))
		if err != nil || o.Fault != "" {
			t.Fatalf("creating an instance on a: %v %v", o, err)
		}
		p.add(id)
	}
	ids := p.all()
	for _, act := range []action{newAction(rng, "Suspend", ids[0], "p-before"), {Op: "ResumeBookmark", ID: ids[1], Review: "approve", Nonce: "rb-p-before"}} {
		if o, err := l.do(ca, checker, act); err != nil || o.Fault != "" {
			t.Fatalf("%s on a before the cut: %v %v (%s)", act, o, err, o.Detail)
		}
	}
	var tickers []ticker
	for range 4 {
		tickers = append(tickers, createTicker(t, ca, "a", 3, time.Second))
	}
	before, err := scrape(ca, loadedMetric, leasesMetric)
	if err != nil {
		t.Fatalf("a's /metrics: %v", err)
	}
	if before[loadedMetric] <= 0 || before[leasesMetric] <= 0 {
		t.Fatalf("before the cut, a's /metrics shows %s=%v %s=%v (absent: not served); want both above 0 (it created and runs %d instances, --unload-after 1m)",
			loadedMetric, before[loadedMetric], leasesMetric, before[leasesMetric], len(ids)+len(tickers))
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 6; w++ {
		wr := rand.New(rand.NewPCG(rng.Uint64(), uint64(w)))
		wg.Go(func() { cl.worker(l, w, wr, "p", stop) })
	}
	time.Sleep(500 * time.Millisecond) // load through every node before the cut: the experiment

	cut := time.Now()
	proxy.Stop()
	// a must notice by itself, before its lease (last renewed at or before the cut) can expire.
	deadline := cut.Add(clusterLease)
	// The probes' replies are dated when they arrive: a reply after the deadline is late anyway,
	// so a short timeout keeps the polling going past a probe that a's lost database holds up.
	probe := clientsAt(cl.url(a), clusterLease)
	defer probe.close()
	var unhealthyAt, droppedAt time.Time
	var lastHealth, lastMetrics string
	var pw sync.WaitGroup
	pw.Go(func() {
		unhealthyAt = pollUntil(cut.Add(15*time.Second), func() bool {
			code, body, err := probe.healthz()
			lastHealth = fmt.Sprintf("%d %q (%v)", code, body, err)
			return err == nil && code == 503
		})
	})
	pw.Go(func() {
		droppedAt = pollUntil(cut.Add(15*time.Second), func() bool {
			m, err := scrape(probe, loadedMetric, leasesMetric)
			lastMetrics = fmt.Sprintf("%v (%v)", m, err)
			l, lok := m[loadedMetric]
			h, hok := m[leasesMetric]
			return err == nil && lok && hok && l == 0 && h == 0
		})
	})
	pw.Wait()
	switch {
	case unhealthyAt.IsZero():
		t.Errorf("a's /healthz did not answer 503 within 15s of the cut; last: %s", lastHealth)
	case unhealthyAt.After(deadline):
		t.Errorf("a's /healthz answered 503 only %v after the cut, after its lease (%v) could have expired", unhealthyAt.Sub(cut).Round(time.Millisecond), clusterLease)
	}
	switch {
	case droppedAt.IsZero():
		t.Errorf("a still held instances 15s after the cut (%s and %s must reach 0); last: %s", loadedMetric, leasesMetric, lastMetrics)
	case droppedAt.After(deadline):
		t.Errorf("a dropped its instances only %v after the cut, after its lease (%v) could have expired: two nodes may have run them at once", droppedAt.Sub(cut).Round(time.Millisecond), clusterLease)
	}

	// b and c take over a's timers.
	var took []string
	for _, tk := range tickers {
		first := waitFirstTick(t, cl, rng, tk, latest(cut, tk.due).Add(30*time.Second), 1, 2)
		switch {
		case first.IsZero():
			t.Fatalf("a's timer instance %s did not fire within 30s of the cut", tk.id)
		case first.Before(cut):
			took = append(took, "fired before the cut")
		default:
			took = append(took, first.Sub(cut).Round(time.Millisecond).String())
			if late := first.Sub(latest(cut, tk.due)); late > takeoverBound {
				t.Errorf("a's timer instance %s (due %s, cut at %s) fired %v late on b or c: more than lease expiry and a detection period (%v) plus a margin",
					tk.id, tk.due.Format("15:04:05.000"), cut.Format("15:04:05.000"), late.Round(time.Millisecond), takeoverSpec)
			}
		}
	}
	close(stop)
	wg.Wait()

	// The database comes back on the same address: a must recover without a restart.
	how := "by itself"
	if err := relisten(t, proxy.Addr(), pg.Host, 5*time.Second); err != nil {
		t.Logf("the proxy's address %s could not be listened on again (%v): a is restarted through a new proxy instead", proxy.Addr(), err)
		if proxy, err = startProxy(t, "127.0.0.1:0", pg.Host); err != nil {
			t.Fatal(err)
		}
		cl.stop(a)
		cl.restart(a) // viaProxy reads the new proxy's address
		how = "after a restart"
	}
	ra := clientsAt(cl.url(a), 30*time.Second)
	defer ra.close()
	recovered, _ := ra.waitHealth(t, 200, 30*time.Second)
	rec.settle(rec.now())

	cb := cl.clients(1)
	defer cb.close()
	verified, cs := readAndCheck(t, l, p, cb, "after the partition")
	fires := checkTickers(t, cl, rng, tickers)
	checkFreshBookmark(t, ra, "a, after the partition")
	st.mu.Lock()
	defer st.mu.Unlock()
	t.Logf("SUMMARY harness cluster partition: a's /healthz 503 %v and its instances dropped %v after the cut (lease %v); b and c fired a's timers %v after it; a recovered %s %v after the database returned; %d operations acknowledged (%d faults, %d Receiver faults), %d unknown outcomes; %d records of acknowledged operations verified; %d histories (%d operations) linearizable; %d timers fired exactly once",
		sinceOrNever(unhealthyAt, cut), sinceOrNever(droppedAt, cut), clusterLease, took, how, recovered.Round(time.Millisecond),
		st.acked, st.faults, st.receiver, st.unknown, verified, cs.histories, cs.operations, fires)
}
