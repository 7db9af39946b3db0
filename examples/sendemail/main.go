// Command sendemail is a wimp server extended with two custom activities written in Go:
//
//   - FormatGreeting, code-only: turns a name into the text of a welcome message, synchronously,
//     inside the instance;
//   - SendEmail, asynchronous: "sends" an email by putting it in an in-memory outbox, outside
//     the instance, with the idempotency key wimp gives every execution, so a retried or
//     repeated attempt does not send it twice.
//
// The Welcome definition (Welcome.xml, embedded) uses both. The outbox is served as JSON at
// /outbox beside wimp's own endpoints; no mail leaves the process.
//
//	go run ./examples/sendemail --listen 127.0.0.1:8080 --db /tmp/sendemail.db
//	wimpctl --endpoint http://127.0.0.1:8080 create --definition Welcome --input name=Ann --input email=ann@example.com
//	curl http://127.0.0.1:8080/outbox
//
// --fail-first N makes the first N send attempts fail with a transient error, to watch the
// retries (CallAttempt and CallResult records in `wimpctl track`). Addresses at bounce.invalid
// fail for good with MailboxUnavailable, which the workflow catches.
package main

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/wimp-project/wimp/wimp"
)

//go:embed *.xml
var definitions embed.FS

// Email is SendEmail's arguments: the element's attributes To (required), Subject and Body.
type Email struct {
	To      string `wimp:"To,required"`
	Subject string `wimp:"Subject"`
	Body    string `wimp:"Body"`
}

// Receipt is SendEmail's result.
type Receipt struct {
	MessageID string `json:"messageId"`
	Attempt   int    `json:"attempt"`
}

// Sent is one email in the outbox.
type Sent struct {
	Email
	IdempotencyKey string `json:"idempotencyKey"`
	Attempt        int    `json:"attempt"`
	Instance       string `json:"instance"`
}

// outbox keeps the emails sent, once per idempotency key.
type outbox struct {
	mu       sync.Mutex
	sent     []Sent
	byKey    map[string]Receipt
	failLeft atomic.Int64
}

func (o *outbox) send(_ context.Context, c wimp.Call, e Email) (Receipt, error) {
	if strings.HasSuffix(e.To, "@bounce.invalid") {
		return Receipt{}, &wimp.Error{Name: "MailboxUnavailable", Message: e.To + " does not accept mail"}
	}
	if o.failLeft.Add(-1) >= 0 {
		return Receipt{}, wimp.Retryable(errors.New("the mail relay is busy"))
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if r, ok := o.byKey[c.IdempotencyKey]; ok {
		return r, nil // sent already by an earlier attempt of this execution
	}
	r := Receipt{MessageID: fmt.Sprintf("<%s@sendemail.example>", c.IdempotencyKey), Attempt: c.Attempt}
	o.byKey[c.IdempotencyKey] = r
	o.sent = append(o.sent, Sent{Email: e, IdempotencyKey: c.IdempotencyKey, Attempt: c.Attempt, Instance: c.Instance.String()})
	return r, nil
}

func (o *outbox) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	o.mu.Lock()
	defer o.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(append([]Sent{}, o.sent...))
}

func greeting(_ wimp.CodeContext, a struct {
	Name string `wimp:"Name,required"`
}) (string, error) {
	if strings.TrimSpace(a.Name) == "" {
		return "", &wimp.Error{Name: "ArgumentError", Message: "Name is empty"}
	}
	return "Welcome, " + a.Name + "!", nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "sendemail:", err)
		os.Exit(1)
	}
}

func run() error {
	listen := flag.String("listen", "127.0.0.1:8080", "address to listen on (port 0 picks a free one)")
	db := flag.String("db", "./sendemail.db", "SQLite database file")
	failFirst := flag.Int64("fail-first", 0, "make the first N send attempts fail with a transient error")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	box := &outbox{byKey: map[string]Receipt{}}
	box.failLeft.Store(*failFirst)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := wimp.New(ctx, wimp.Config{DB: *db, DefinitionFS: definitions, Logger: log, Activities: []wimp.Activity{
		wimp.Code("FormatGreeting", greeting),
		wimp.Async("SendEmail", box.send),
	}})
	if err != nil {
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/outbox", box)
	mux.Handle("/", srv.Handler())
	log.Info("listening", "url", "http://"+ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln, mux) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		return nil
	}
}
