package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// An HttpRequest whose server fails the first attempts survives kill -9 of wimp-server twice:
// once during the back-off after the first attempt (the back-off is a durable timer: the next
// process makes the second attempt), once while the second attempt is in flight (the next
// process makes it again once its deadline, Timeout plus 5 s, has passed). Every attempt carries
// the same Idempotency-Key, and the instance completes with the result of the last one.
func TestHttpRequestRetriesSurviveKill9(t *testing.T) {
	type attempt struct{ key, body string }
	var mu sync.Mutex
	var seen []attempt
	arrived := make(chan int, 10)
	killed := make(chan struct{})
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, attempt{r.Header.Get("Idempotency-Key"), string(b)})
		n := len(seen)
		mu.Unlock()
		arrived <- n
		switch n {
		case 1:
			w.WriteHeader(http.StatusServiceUnavailable)
		case 2:
			<-killed // answered only once the process that asked is gone
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"order": 42, "accepted": true}`)
		}
	}))
	defer api.Close()
	defer func() {
		select {
		case <-killed:
		default:
			close(killed)
		}
	}()

	defs := t.TempDir()
	def := `<Workflow Name="PlaceOrder" Package="e2e" Version="1.0.0.0">
  <Arguments><In Name="api" Type="String" Required="true"/></Arguments>
  <Variables><Variable Name="res" Type="Object"/><Variable Name="status" Type="String" Default="'Pending'"/></Variables>
  <Sequence Id="main">
    <HttpRequest Id="order" Method="POST" Url="[api + '/orders']" Body="[{'item': 'book'}]" Result="res"
                 Attempts="5" RetryBackoff="3s" Timeout="2s"/>
    <Assign Id="placed" To="status" Value="Placed"/>
  </Sequence>
</Workflow>`
	if err := os.WriteFile(filepath.Join(defs, "order.xml"), []byte(def), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "--definitions", defs, "--http-allow", strings.TrimPrefix(api.URL, "http://"))
	id := s.create("PlaceOrder", "--input", "api="+api.URL)

	wait := func(n int) {
		t.Helper()
		select {
		case got := <-arrived:
			if got != n {
				t.Fatalf("attempt %d arrived, want %d", got, n)
			}
		case <-time.After(60 * time.Second): // a liveness bound
			t.Fatalf("attempt %d did not arrive", n)
		}
	}
	wait(1)
	// The first attempt's outcome (503: retry) is persisted with the back-off timer.
	deadline := time.Now().Add(30 * time.Second)
	for countRecords(s.track(id), "Activity", "CallResult") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the first attempt's outcome was not persisted")
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.Kill9()
	s.restart()
	wait(2)
	s.Kill9()
	close(killed)
	s.restart()
	wait(3)
	inst := s.waitFor(id, 60*time.Second, "completion", func(i instance) bool { return i.State == "Completed" })
	if inst.Completion != "Closed" || str(inst, "status") != "Placed" {
		t.Fatalf("instance %+v", inst)
	}
	res, _ := inst.Variables["res"].(map[string]any)
	if res["status"] != 200.0 || fmt.Sprint(res["body"]) != "map[accepted:true order:42]" {
		t.Fatalf("result %v", res)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 3 {
		t.Fatalf("%d attempts, want 3: %+v", len(seen), seen)
	}
	for _, a := range seen {
		if a.key != seen[0].key || a.body != `{"item":"book"}` {
			t.Fatalf("attempts %+v: want the same key and body for each", seen)
		}
	}
	var key string
	if err := json.Unmarshal([]byte(seen[0].key), &key); err != nil || len(key) != 36 {
		t.Fatalf("Idempotency-Key %q is not a quoted UUID", seen[0].key)
	}
	recs := s.track(id)
	if n := countRecords(recs, "Activity", "CallLost"); n != 1 {
		t.Fatalf("%d CallLost records, want 1 (the attempt in flight at the second kill)", n)
	}
}
