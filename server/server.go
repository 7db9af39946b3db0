// Package server is wimp's HTTP surface: the MS-WFIM control endpoint, the hosting endpoint, their
// metadata, /healthz and /metrics, routed over one host and store.
package server

import (
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/wimp-project/wimp/auth"
	"github.com/wimp-project/wimp/host"
	"github.com/wimp-project/wimp/hosting"
	"github.com/wimp-project/wimp/protocol"
	"github.com/wimp-project/wimp/soap"
	"github.com/wimp-project/wimp/ui"
	"github.com/wimp-project/wimp/wsdl"
)

const (
	controlPath = "/WorkflowControl"
	hostingPath = "/WorkflowHosting"
)

// Options configure the handler.
type Options struct {
	MaxBody int64        // request body limit (soap.Endpoint.MaxBodyBytes)
	Log     *slog.Logger // nil: slog.Default()
	// Auth checks credentials (README, Security). Nil: the server is open and every caller is
	// the anonymous admin, for a loopback listener without a users file or --insecure.
	Auth *auth.Authenticator
	// Forwarding decides the client's address and the WSDL's base URL (nil: the TCP peer and
	// the address the connection arrived on).
	Forwarding *Forwarding
	// ClockSkew is how far a WS-Security Timestamp may be off (0: DefaultClockSkew).
	ClockSkew time.Duration
	// Metrics is what /metrics serves, wired to the store and the host (NewMetrics). Nil: the
	// server makes its own, without the store's commits and the timers' lateness.
	Metrics *Metrics
	// PeerRoots verifies the HTTPS certificates of the other nodes this one forwards to (nil:
	// the system's roots).
	PeerRoots *x509.CertPool
}

// New returns the handler serving every wimp URL (README, "What runs where").
func New(h *host.Host, o Options) http.Handler {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.ClockSkew == 0 {
		o.ClockSkew = DefaultClockSkew
	}
	if o.Forwarding == nil {
		o.Forwarding = &Forwarding{}
	}
	maxBody := o.MaxBody
	if maxBody <= 0 {
		maxBody = soap.DefaultMaxBodyBytes
	}
	sec := &security{auth: o.Auth, fwd: o.Forwarding, skew: o.ClockSkew, peer: h, maxBody: maxBody}
	m := o.Metrics
	if m == nil {
		m = newMetrics()
	}
	m.bind(h, o.Auth, o.Log)
	control := &soap.Endpoint{Operations: m.countOperations(protocol.Operations(h)), MaxBodyBytes: o.MaxBody, Logger: o.Log,
		Authenticate: sec.authenticateSOAP}
	hostingEP := &soap.Endpoint{Operations: m.countOperations(hosting.Operations(h)), MaxBodyBytes: o.MaxBody, Logger: o.Log,
		Authenticate: sec.authenticateSOAP}
	base := o.Forwarding.BaseURL
	fwd := newPeers(h, maxBody, o.Log, o.PeerRoots)
	m.bindPeers(fwd)
	h.SetPeers(fwd)

	mux := http.NewServeMux()
	mux.Handle(controlPath, m.count(controlPath, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			fwd.serve(w, r, control.ServeHTTP)
			return
		}
		if wsdl.IsMetadataRequest(r) {
			wsdl.ServeControlMetadata(w, r, base(r)+controlPath)
			return
		}
		help(w, r, "MS-WFIM control endpoint (IWorkflowInstanceManagement)", base(r)+controlPath)
	})))
	mux.Handle(hostingPath, m.count(hostingPath, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			fwd.serve(w, r, hostingEP.ServeHTTP)
			return
		}
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) && r.URL.Query().Has("wsdl") {
			doc := hosting.WSDL(base(r) + hostingPath)
			w.Header().Set("Content-Type", "text/xml; charset=utf-8")
			if r.Method == http.MethodGet {
				_, _ = w.Write(doc)
			}
			return
		}
		help(w, r, "wimp hosting endpoint (IWorkflowHosting)", base(r)+hostingPath)
	})))
	mux.Handle(applyPath, m.count(applyPath, http.HandlerFunc(fwd.accept)))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		// A real write (the host renews its lease), not a read: a database that answers reads
		// but cannot be written is not healthy.
		if err := h.Health(r.Context()); err != nil {
			http.Error(w, "unhealthy: the store cannot be written: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/metrics", authorized(h, "metrics", host.Reader, m.handler().ServeHTTP))
	// The dashboard (README, "Dashboard"): 401 with the Basic challenge until the browser
	// authenticates, then the reader role at least.
	mux.Handle(ui.Prefix, m.count(ui.Prefix, authorized(h, "Dashboard", host.Reader,
		ui.New(h, ui.Options{MaxBody: o.MaxBody, Log: o.Log}).ServeHTTP)))
	mux.Handle("GET /{$}", http.RedirectHandler(ui.Prefix, http.StatusFound))
	return closeAfterTransferEncoding(accessLog(o.Log, sec.middleware(mux)))
}

// closeAfterTransferEncoding closes the connection after answering a request framed with
// Transfer-Encoding. A request that also carried a Content-Length (which net/http drops, using
// the chunked framing) is ambiguous, and RFC 9112 §6.1 requires closing the connection after
// it: otherwise bytes after the chunked body would be read as another request (smuggling). Since
// the dropped header cannot be seen here, every Transfer-Encoding request closes its connection;
// SOAP clients almost always send Content-Length, so keep-alive is rarely lost.
func closeAfterTransferEncoding(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TransferEncoding) > 0 {
			w.Header().Set("Connection", "close")
		}
		next.ServeHTTP(w, r)
	})
}

// help answers a browser's GET on an endpoint URL with where its WSDL is.
func help(w http.ResponseWriter, r *http.Request, what, url string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "%s.\nPOST SOAP 1.1 (text/xml) or SOAP 1.2 (application/soap+xml) requests here.\nWSDL: %s?wsdl\n",
		what, url)
}
