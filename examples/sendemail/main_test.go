package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/hosting"
	"github.com/wimp-project/wimp/internal/testserver"
)

// The example builds, runs as a process, and sends the welcome email of a workflow created over
// the hosting endpoint: FormatGreeting made its body, SendEmail put it in the outbox once
// although its first two attempts failed, with the idempotency key of that execution.
func TestSendEmailExample(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "sendemail")
	args := []string{"build", "-o", bin}
	if testserver.Race {
		args = append(args, "-race")
	}
	if out, err := exec.Command("go", append(args, ".")...).CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	p, err := testserver.Start(bin, dir, "--fail-first", "2")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		p.Stop()
		if t.Failed() {
			t.Logf("log:\n%s", p.LogTail(60))
		}
	}()
	ctx := context.Background()
	c := hosting.NewClient(p.URL + "/WorkflowHosting")
	id, err := c.Create(ctx, host.CreateRequest{Definition: "Welcome", Inputs: map[string]any{"name": "Ann", "email": "ann@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	inst := waitCompleted(t, c, id)
	if inst.Completion != "Closed" || inst.Variables["status"] != "Sent" || inst.Variables["body"] != "Welcome, Ann!" {
		t.Fatalf("instance %+v", inst)
	}
	sent := outboxOf(t, p.URL)
	if len(sent) != 1 {
		t.Fatalf("outbox %+v, want one email", sent)
	}
	e := sent[0]
	uuidRE := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	if e.To != "ann@example.com" || e.Subject != "Welcome to wimp" || e.Body != "Welcome, Ann!" || e.Attempt != 3 ||
		e.Instance != id.String() || !uuidRE.MatchString(e.IdempotencyKey) {
		t.Fatalf("sent %+v", e)
	}
	receipt, _ := inst.Variables["receipt"].(map[string]any)
	if receipt["messageId"] != "<"+e.IdempotencyKey+"@sendemail.example>" || receipt["attempt"] != 3.0 {
		t.Fatalf("receipt %v", receipt)
	}

	// A bounce is a MailboxUnavailable exception the workflow catches; nothing is sent.
	id, err = c.Create(ctx, host.CreateRequest{Definition: "Welcome", Inputs: map[string]any{"name": "Bob", "email": "bob@bounce.invalid"}})
	if err != nil {
		t.Fatal(err)
	}
	if inst := waitCompleted(t, c, id); inst.Variables["status"] != "Bounced" {
		t.Fatalf("bounce: %+v", inst)
	}
	if sent := outboxOf(t, p.URL); len(sent) != 1 {
		t.Fatalf("outbox after the bounce: %+v", sent)
	}
}

func waitCompleted(t *testing.T, c *hosting.Client, id uuid.UUID) *hosting.Instance {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second) // a liveness bound: the retries back off 1s, then 2s
	for {
		inst, err := c.GetInstance(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if inst.State == "Completed" {
			return inst
		}
		if time.Now().After(deadline) {
			t.Fatalf("instance %s did not complete: %+v", id, inst)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func outboxOf(t *testing.T, url string) []Sent {
	t.Helper()
	resp, err := http.Get(url + "/outbox")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sent []Sent
	if err := json.NewDecoder(resp.Body).Decode(&sent); err != nil {
		t.Fatal(err)
	}
	return sent
}
