package ui_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/hosting"
	"github.com/wimp-project/wimp/soap"
)

// RequireBrowserEnv turns a missing browser into a failure instead of a skip (CI sets it, so
// the browser tests cannot pass by skipping).
const RequireBrowserEnv = "WIMP_REQUIRE_BROWSER"

// UpdateScreenshotsEnv=1 makes the browser test write its screenshots to docs/ (README's).
const UpdateScreenshotsEnv = "WIMP_UPDATE_SCREENSHOTS"

// chromiumPath is Debian's chromium (or $WIMP_CHROMIUM), or the test ends as
// internal/testserver.MissingClient ends one: skipped, or failed when RequireBrowserEnv=1.
func chromiumPath(t *testing.T) string {
	t.Helper()
	p := os.Getenv("WIMP_CHROMIUM")
	if p == "" {
		p = "/usr/bin/chromium"
		if lp, err := exec.LookPath("chromium"); err == nil {
			p = lp
		}
	}
	if fi, err := os.Stat(p); err != nil || fi.IsDir() {
		msg := fmt.Sprintf("chromium not available at %s; install with: apt-get install -y chromium", p)
		if os.Getenv(RequireBrowserEnv) == "1" {
			t.Fatalf("%s (%s=1: a missing browser is a failure)", msg, RequireBrowserEnv)
		}
		t.Skipf("%s (set %s=1 to make this a failure)", msg, RequireBrowserEnv)
	}
	return p
}

// newBrowser starts a headless chromium with an empty profile of its own; it stops when the
// test ends.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	exe := chromiumPath(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	actx, acancel := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(bcancel)
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting %s: %v", exe, err)
	}
	return bctx
}

// tab opens a tab in a browser context of its own (its own credentials) that answers the
// server's Basic challenge as user, as a person typing into the browser's login dialog would.
// Console exceptions and Content-Security-Policy violations fail the test.
func tab(t *testing.T, browser context.Context, user string) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatal(err)
	}
	paused := chromedp.Events(ctx, fetch.RequestPaused)
	auth := chromedp.Events(ctx, fetch.AuthRequired)
	console := chromedp.Console(ctx)
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	wg.Add(3)
	go func() {
		defer wg.Done()
		for ev, err := range paused {
			if err != nil {
				return
			}
			go func() {
				_, _ = chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
			}()
		}
	}()
	challenges := 0
	var mu sync.Mutex
	go func() {
		defer wg.Done()
		for ev, err := range auth {
			if err != nil {
				return
			}
			mu.Lock()
			challenges++
			mu.Unlock()
			go func() {
				_, _ = chromedp.Call(ctx, fetch.ContinueWithAuth, fetch.ContinueWithAuthParams{RequestID: ev.RequestID,
					AuthChallengeResponse: &fetch.AuthChallengeResponse{Response: "ProvideCredentials", Username: user, Password: password}})
			}()
		}
	}()
	go func() {
		defer wg.Done()
		for m, err := range console {
			if err != nil {
				return
			}
			if m.IsException() || strings.Contains(m.Text, "Content Security Policy") {
				t.Errorf("browser console (%s): %s %s", user, m.Type, m.Text)
			}
		}
	}()
	yes := true
	if _, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{HandleAuthRequests: &yes}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		if challenges == 0 && !t.Failed() {
			t.Errorf("the browser of %s was never asked for credentials: the dashboard did not challenge", user)
		}
	})
	return ctx
}

func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// until waits for a JavaScript condition on the page (a DOM state), at most 20 s. A navigation
// (a form's submit, a link) ends a poll; it is started again in the new document.
func until(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var err error
	for left := time.Until(deadline); left > 0; left = time.Until(deadline) {
		if _, err = chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(left))); err == nil {
			return
		}
	}
	page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ''`))
	t.Fatalf("waiting for %s (%s): %v\npage text:\n%s", what, expr, err, page)
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// screenshot takes a full-page PNG and checks it is one, of a plausible size and not blank; with
// UpdateScreenshotsEnv=1 it is written to docs/NAME.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	b, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("screenshot %s is not a PNG: %v", name, err)
	}
	bounds := img.Bounds()
	if bounds.Dx() < 1000 || bounds.Dy() < 600 || len(b) < 20<<10 {
		t.Fatalf("screenshot %s: %dx%d, %d bytes: too small to show a page", name, bounds.Dx(), bounds.Dy(), len(b))
	}
	if colours := distinctColours(img, 4); colours < 16 {
		t.Fatalf("screenshot %s has %d colours: a blank page", name, colours)
	}
	t.Logf("screenshot %s: %dx%d, %d bytes", name, bounds.Dx(), bounds.Dy(), len(b))
	if os.Getenv(UpdateScreenshotsEnv) == "1" {
		if err := os.WriteFile(filepath.Join("..", "docs", name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func distinctColours(img image.Image, step int) int {
	seen := map[[4]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += step {
		for x := b.Min.X; x < b.Max.X; x += step {
			r, g, bl, a := img.At(x, y).RGBA()
			seen[[4]uint32{r >> 12, g >> 12, bl >> 12, a >> 12}] = true
		}
	}
	return len(seen)
}

// unsuspendOverSOAP unsuspends an instance through the MS-WFIM endpoint, as WCF would: not
// through the dashboard, which must notice by itself.
func (e *env) unsuspendOverSOAP(t *testing.T, id uuid.UUID) {
	t.Helper()
	const ns = "http://schemas.datacontract.org/2008/10/WorkflowServices"
	c := &soap.Client{URL: e.url + "/WorkflowControl", Version: soap.V11, Credentials: &soap.Credentials{Username: admin, Password: password}}
	body := etree.NewElement("Unsuspend")
	body.CreateAttr("xmlns", ns)
	body.CreateElement("instanceId").SetText(id.String())
	if _, err := c.Call(context.Background(), ns+"/IWorkflowInstanceManagement/Unsuspend", body); err != nil {
		t.Fatal(err)
	}
}

// TestDashboardInBrowser drives the dashboard in headless chromium against a real server (the
// in-process server.New over SQLite, with a users file): the overview, a search by state, an
// instance page, Suspend with a reason, a resumption seen live, a bookmark resumed with a
// payload, a bulk job from a search, and a reader who sees no action and is refused one.
func TestDashboardInBrowser(t *testing.T) {
	browser := newBrowser(t)
	e := start(t)
	ann := e.expense(t, "ann")
	bob := e.expense(t, "bob")
	carol := e.expense(t, "carol")
	if resp, r := e.post(t, operator, "/ui/api/instances/"+bob.String()+"/actions/Suspend", `{"reason":"waiting for receipts"}`, nil); resp.StatusCode != 200 {
		t.Fatalf("suspend bob: %s %+v", resp.Status, r.Error)
	}
	// A completed one, for the overview's counts and the timeline of a whole life.
	done := e.expense(t, "dora")
	for _, reviewer := range []string{"bob", "carol"} {
		if resp, r := e.post(t, operator, "/ui/api/instances/"+done.String()+"/resume",
			fmt.Sprintf(`{"bookmark":"Review","payload":{"approved":true,"reviewer":%q}}`, reviewer), nil); resp.StatusCode != 200 {
			t.Fatalf("resume: %s %+v", resp.Status, r.Error)
		}
	}
	if in := e.instance(t, done); in.State != "Completed" {
		t.Fatalf("dora's expense: %s, want Completed after two approvals", in.State)
	}

	ada := tab(t, browser, admin)

	// Overview: counts by state and definition, the suspended instance with its reason, health.
	do(t, ada, chromedp.Navigate(e.url+"/ui/"), chromedp.WaitVisible(chromedp.CSS(`#states [data-count="Active"]`)))
	until(t, ada, "the counts by state", `document.querySelector('[data-count="Active"]').textContent === '2' &&
		document.querySelector('[data-count="Suspended"]').textContent === '1' &&
		document.querySelector('[data-count="Completed"]').textContent === '1' &&
		document.querySelector('[data-count="total"]').textContent === '4'`)
	if s := text(t, ada, "#definitions"); !strings.Contains(s, "wimp.samples.ExpenseApproval") || !strings.Contains(s, "1.0.0.0") {
		t.Errorf("counts by definition: %q", s)
	}
	if s := text(t, ada, "#recent"); !strings.Contains(s, bob.String()) || !strings.Contains(s, "waiting for receipts") {
		t.Errorf("recently suspended: %q", s)
	}
	if s := text(t, ada, "#health"); !strings.Contains(s, "healthy") {
		t.Errorf("health: %q", s)
	}
	if s := text(t, ada, "#role"); s != "admin" {
		t.Errorf("role shown: %q", s)
	}
	screenshot(t, ada, "dashboard-overview.png")

	// Search by state: the form puts the query in the URL, the results are the Active ones.
	do(t, ada, chromedp.Navigate(e.url+"/ui/search"), chromedp.WaitVisible(chromedp.CSS("#f-state")),
		chromedp.SetValue(chromedp.CSS("#f-state"), "Active"), chromedp.Click(chromedp.CSS("#search-submit")))
	until(t, ada, "the Active instances", `location.search === '?state=Active' && document.querySelector('#total') &&
		document.querySelector('#total').textContent.startsWith('2 instances match') &&
		document.querySelectorAll('#instances tbody tr').length === 2`)
	if s := text(t, ada, "#instances"); !strings.Contains(s, ann.String()) || !strings.Contains(s, carol.String()) || strings.Contains(s, bob.String()) {
		t.Errorf("search state=Active: %q", s)
	}

	// Open ann's instance from the results.
	do(t, ada, chromedp.Click(chromedp.CSS(`a[href="/ui/instance/`+ann.String()+`"]`)))
	until(t, ada, "ann's instance page", `location.pathname === '/ui/instance/`+ann.String()+`' &&
		document.querySelector('#state [data-state="Active"]') !== null &&
		document.querySelectorAll('#timeline li.rec').length > 0`)
	if s := text(t, ada, "#bookmarks"); !strings.Contains(s, "Review") {
		t.Errorf("bookmarks: %q", s)
	}
	until(t, ada, "the timer's countdown", `/^fires in (59|60) min/.test(document.querySelector('#countdown').textContent)`)
	if s := text(t, ada, "#variables"); !strings.Contains(s, "status") || !strings.Contains(s, `"Pending"`) {
		t.Errorf("variables: %q", s)
	}
	// Marks this document: a reload would lose it, so the checks below see live updates.
	do(t, ada, chromedp.Evaluate[chromedp.Void](`window.wimpNoReload = true`))

	// Suspend: the reason is required; then the state and the tracking trail change.
	do(t, ada, chromedp.Click(chromedp.CSS(`#actions button[data-op="Suspend"]`)), chromedp.WaitVisible(chromedp.CSS("#confirm-reason")),
		chromedp.Click(chromedp.CSS("#confirm-ok")), chromedp.WaitVisible(chromedp.CSS("#confirm-error")),
		chromedp.SendKeys(chromedp.CSS("#confirm-reason"), "audit from the browser"), chromedp.Click(chromedp.CSS("#confirm-ok")))
	until(t, ada, "the instance suspended", `document.querySelector('#state [data-state="Suspended"]') !== null &&
		document.querySelector('#suspension-reason').textContent === 'audit from the browser' &&
		[...document.querySelectorAll('#timeline li.rec[data-name="Suspended"]')].some(li => li.textContent.includes('audit from the browser') && li.textContent.includes('by ada@')) &&
		document.querySelector('#message').textContent.startsWith('Suspend: done.')`)
	if in := e.instance(t, ann); in.State != "Suspended" || in.SuspensionReason != "audit from the browser" {
		t.Fatalf("after the browser's Suspend the server has %s %q", in.State, in.SuspensionReason)
	}
	// Run on a suspended instance: the contract's fault, in words.
	do(t, ada, chromedp.Click(chromedp.CSS(`#actions button[data-op="Run"]`)))
	until(t, ada, "Run refused", `document.querySelector('#message').classList.contains('error') &&
		document.querySelector('#message').textContent.startsWith('InstanceSuspended: ')`)

	// Someone else unsuspends it over SOAP: the open page shows it without a reload.
	e.unsuspendOverSOAP(t, ann)
	until(t, ada, "the resumption seen live", `window.wimpNoReload === true &&
		document.querySelector('#state [data-state="Active"]') !== null &&
		document.querySelectorAll('#timeline li.rec[data-name="Unsuspended"]').length === 1`)

	// Resume the Review bookmark with a JSON payload.
	do(t, ada, chromedp.WaitVisible(chromedp.CSS("#resume-payload")),
		chromedp.SetValue(chromedp.CSS("#resume-payload"), `{"approved": true, "reviewer": "bob"}`),
		chromedp.Click(chromedp.CSS("#resume-submit")))
	until(t, ada, "the bookmark resumed", `document.querySelector('#message').textContent.startsWith('Bookmark "Review" resumed.') &&
		[...document.querySelectorAll('#timeline li.rec.kind-Bookmark')].some(li => li.dataset.name === 'Review' && li.textContent.includes('by ada@')) &&
		document.querySelector('#variables').textContent.includes('"bob"')`)
	screenshot(t, ada, "dashboard-instance.png")

	// A bulk job from a search: Terminate the Active ones, confirmed, with its progress.
	do(t, ada, chromedp.Navigate(e.url+"/ui/search?state=Active"))
	until(t, ada, "the search", `document.querySelector('#total') && document.querySelector('#total').textContent.startsWith('2 instances')`)
	do(t, ada, chromedp.SetValue(chromedp.CSS("#bulk-op"), "Terminate"), chromedp.Click(chromedp.CSS("#bulk-start")),
		chromedp.WaitVisible(chromedp.CSS("#confirm-ok")))
	if s := text(t, ada, "#confirm"); !strings.Contains(s, "Terminate 2 instances?") || !strings.Contains(s, "cannot be undone") {
		t.Errorf("bulk confirmation: %q", s)
	}
	do(t, ada, chromedp.SendKeys(chromedp.CSS("#confirm-reason"), "end of quarter"), chromedp.Click(chromedp.CSS("#confirm-ok")))
	until(t, ada, "the bulk job done", `document.querySelector('#bulk-progress .job[data-status="Completed"]') !== null &&
		document.querySelector('#bulk-progress .job-status').textContent.startsWith('Completed: 2 of about 2 handled, 2 ok')`)
	for _, id := range []uuid.UUID{ann, carol} {
		if in := e.instance(t, id); in.State != "Completed" || in.Completion != "Terminated" {
			t.Errorf("after the bulk Terminate: %s %s", in.State, in.Completion)
		}
	}

	// A reader: the same pages, no action, and a direct POST refused with WCF's words.
	rita := tab(t, browser, reader)
	do(t, rita, chromedp.Navigate(e.url+"/ui/instance/"+bob.String()))
	until(t, rita, "bob's instance as a reader", `document.querySelector('#state [data-state="Suspended"]') !== null &&
		document.querySelector('#role').textContent === 'reader'`)
	if n, err := chromedp.Run(rita, chromedp.Evaluate[int](`document.querySelectorAll('#actions, #actions button, #resume, button[data-op]').length`)); err != nil || n != 0 {
		t.Errorf("a reader sees %d action elements (%v)", n, err)
	}
	type refusal struct {
		Status int `json:"status"`
		Body   struct {
			Error struct{ Code, Message string } `json:"error"`
		} `json:"body"`
	}
	got, err := chromedp.Run(rita, chromedp.Evaluate[refusal](`(async () => {
		const s = await (await fetch('/ui/api/session')).json();
		const r = await fetch('/ui/api/instances/`+bob.String()+`/actions/Unsuspend', {method: 'POST',
			headers: {'Content-Type': 'application/json', [s.csrfHeader]: s.csrfToken}, body: '{}'});
		return {status: r.status, body: await r.json()};
	})()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != 403 || got.Body.Error.Code != "AccessDenied" || got.Body.Error.Message != accessDenied {
		t.Errorf("a reader's POST from the page: %+v, want 403 AccessDenied %q", got, accessDenied)
	}
	if in := e.instance(t, bob); in.State != "Suspended" {
		t.Errorf("after the reader's refused Unsuspend: %s", in.State)
	}
	do(t, rita, chromedp.Navigate(e.url+"/ui/search?state=Suspended"))
	until(t, rita, "the reader's search", `document.querySelector('#total') && document.querySelector('#total').textContent.startsWith('1 instance match')`)
	if n, err := chromedp.Run(rita, chromedp.Evaluate[int](`document.querySelectorAll('#bulk').length`)); err != nil || n != 0 {
		t.Errorf("a reader sees the bulk panel (%d, %v)", n, err)
	}
}

// A child instance's page links to the instance that started it (InvokeWorkflow), and that
// one's page to a search of its children.
func TestChildInstanceInBrowser(t *testing.T) {
	browser := newBrowser(t)
	e := start(t)
	parent, err := e.hosting[admin].Create(context.Background(), host.CreateRequest{Definition: "DocumentApproval",
		Inputs: map[string]any{"document": "spec-7", "reviewers": []string{"ann"}}})
	if err != nil {
		t.Fatal(err)
	}
	child, err := e.hosting[admin].GetInstanceByRef(context.Background(), hosting.Ref{Key: "review/spec-7/ann"})
	if err != nil {
		t.Fatal(err)
	}
	ada := tab(t, browser, admin)
	do(t, ada, chromedp.Navigate(e.url+"/ui/instance/"+child.ID))
	until(t, ada, "the child's page naming its parent", `document.querySelector('#parent a[href="/ui/instance/`+parent.String()+`"]') !== null &&
		document.querySelector('#children') === null`)
	do(t, ada, chromedp.Click(chromedp.CSS(`#parent a`)))
	until(t, ada, "the parent's page", `location.pathname === '/ui/instance/`+parent.String()+`' &&
		document.querySelector('#state [data-state="Active"]') !== null && document.querySelector('#parent') === null &&
		document.querySelector('#children').textContent.startsWith('1 started by this instance')`)
	do(t, ada, chromedp.Click(chromedp.CSS(`#children a`)))
	until(t, ada, "the search of its children", `location.search === '?parent=`+parent.String()+`' &&
		document.querySelector('#total') && document.querySelector('#total').textContent.startsWith('1 instance') &&
		document.querySelector('#instances a[href="/ui/instance/`+child.ID+`"]') !== null`)
	if v, err := chromedp.Run(ada, chromedp.Evaluate[string](`document.querySelector('#f-parent').value`)); err != nil || v != parent.String() {
		t.Errorf("the search form's parent field: %q (%v), want %s", v, err, parent)
	}
}
