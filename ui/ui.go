// Package ui is wimp's web dashboard, served at /ui/ by wimp-server: embedded pages and plain
// JavaScript modules (no build step, nothing fetched at run time) over a small JSON API.
//
// Like the SOAP contracts it is an adapter onto the host: reads are the host's Query, Count,
// Get and Records; the management actions are MS-WFIM's own commands (protocol.Bulk), so the
// state table, the role checks and the tracking records are those of a SOAP call. The server
// authenticates each request and puts the principal in its context (host.WithPrincipal); every
// URL here needs the reader role, and each action the role its operation needs.
//
// State-changing requests are POSTs that must come from the dashboard's own origin (Origin or
// Sec-Fetch-Site) and carry the caller's CSRF token (csrf.go). Reads answer with an ETag, so the
// pages poll cheaply for live updates (If-None-Match, 304).
package ui

import (
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/wimp-project/wimp/host"
)

// Prefix is where the dashboard is mounted.
const Prefix = "/ui/"

// DefaultMaxBody bounds a JSON request body when Options.MaxBody is 0.
const DefaultMaxBody = 64 << 10

// Options configure the dashboard.
type Options struct {
	// MaxBody bounds JSON request bodies (0: DefaultMaxBody); a larger one gets 413.
	MaxBody int64
	// Secret keys the CSRF tokens (HMAC-SHA256). Nil: 32 random bytes per process, so tokens
	// lapse at a restart (the page fetches a new one and retries once).
	Secret []byte
	// Log receives internal errors (nil: slog.Default()).
	Log *slog.Logger
}

//go:embed assets
var assetFS embed.FS

// asset is one embedded file, with what its reply needs.
type asset struct {
	body  []byte
	ctype string
	etag  string
}

type handler struct {
	h       Host
	mux     *http.ServeMux
	secret  []byte
	maxBody int64
	log     *slog.Logger
	assets  map[string]asset // by name under assets/
}

// New returns the dashboard's handler; mount it at Prefix.
func New(h Host, o Options) http.Handler {
	u := &handler{h: h, secret: o.Secret, maxBody: o.MaxBody, log: o.Log}
	if u.maxBody <= 0 {
		u.maxBody = DefaultMaxBody
	}
	if u.log == nil {
		u.log = slog.Default()
	}
	if len(u.secret) == 0 {
		u.secret = make([]byte, 32)
		if _, err := rand.Read(u.secret); err != nil {
			panic("ui: no randomness for the CSRF secret: " + err.Error())
		}
	}
	u.assets = loadAssets()
	m := http.NewServeMux()
	// Pages: one document; the script renders the view the path names.
	for _, p := range []string{"/ui/{$}", "/ui/search", "/ui/instance/{id}"} {
		m.HandleFunc(p, u.page)
	}
	m.HandleFunc("/ui/assets/{name}", u.asset)
	m.HandleFunc("/ui/api/session", u.get(u.session))
	m.HandleFunc("/ui/api/overview", u.get(u.overview))
	m.HandleFunc("/ui/api/instances", u.get(u.search))
	m.HandleFunc("/ui/api/instances/{id}", u.get(u.instance))
	m.HandleFunc("/ui/api/instances/{id}/actions/{op}", u.post(u.action))
	m.HandleFunc("/ui/api/instances/{id}/resume", u.post(u.resume))
	m.HandleFunc("/ui/api/bulk", u.post(u.startBulk))
	m.HandleFunc("/ui/api/bulk/{id}", u.get(u.bulk))
	m.HandleFunc("/ui/api/bulk/{id}/cancel", u.post(u.cancelBulk))
	m.HandleFunc("/ui/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, u.log, &apiError{http.StatusNotFound, "NotFound", "there is no API route " + r.URL.Path})
	})
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "404 not found: the dashboard has no page "+r.URL.Path, http.StatusNotFound)
	})
	u.mux = m
	return u
}

func loadAssets() map[string]asset {
	out := map[string]asset{}
	err := fs.WalkDir(assetFS, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := assetFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ctype := mime.TypeByExtension(path.Ext(p))
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		out[strings.TrimPrefix(p, "assets/")] = asset{body: b, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	if err != nil {
		panic("ui: embedded assets: " + err.Error())
	}
	return out
}

// csp allows the dashboard's own scripts, styles and API only: no inline script or style, no
// framing, no other origin.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

func (u *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", csp)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Cross-Origin-Resource-Policy", "same-origin")
	// Every dashboard URL, pages and assets included, needs the reader role. A request nobody
	// authenticated gets the Basic challenge, so that a browser asks for the user and password.
	p := host.PrincipalFrom(r.Context())
	if p.Role == host.NoRole && p.Name == host.Anonymous {
		hd.Set("WWW-Authenticate", `Basic realm="wimp"`)
		writeError(w, u.log, &apiError{http.StatusUnauthorized, "Unauthorized", "authentication is required"})
		return
	}
	if err := u.h.Authorize(r.Context(), "Dashboard", host.Reader); err != nil {
		writeError(w, u.log, err)
		return
	}
	u.mux.ServeHTTP(w, r)
}

func (u *handler) page(w http.ResponseWriter, r *http.Request) {
	if !allowMethod(w, r, http.MethodGet, http.MethodHead) {
		return
	}
	u.serveAsset(w, r, "index.html")
}

func (u *handler) asset(w http.ResponseWriter, r *http.Request) {
	if !allowMethod(w, r, http.MethodGet, http.MethodHead) {
		return
	}
	name := r.PathValue("name")
	if _, ok := u.assets[name]; !ok || name == "index.html" {
		http.Error(w, "404 not found: no dashboard asset "+name, http.StatusNotFound)
		return
	}
	u.serveAsset(w, r, name)
}

// serveAsset answers with an embedded file, revalidated on every use (no-cache) through its
// content's ETag, so a new binary's assets are picked up at once.
func (u *handler) serveAsset(w http.ResponseWriter, r *http.Request, name string) {
	a := u.assets[name]
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("ETag", a.etag)
	if etagMatches(r, a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", a.ctype)
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(a.body)
}

// etagMatches reports whether the request's If-None-Match names etag (or is "*").
func etagMatches(r *http.Request, etag string) bool {
	for _, v := range r.Header.Values("If-None-Match") {
		for _, t := range strings.Split(v, ",") {
			t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
			if t == etag || t == "*" {
				return true
			}
		}
	}
	return false
}

// allowMethod answers 405 (with Allow) unless the request's method is one of methods.
func allowMethod(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	writeError(w, nil, &apiError{http.StatusMethodNotAllowed, "MethodNotAllowed",
		r.Method + " is not allowed here; use " + strings.Join(methods, " or ")})
	return false
}

// writeJSON answers a read with v. The reply carries an ETag of its content; a request whose
// If-None-Match names it gets 304 without a body, which is what the pages' polling relies on.
// API replies are never cached (they show live state and are per user).
func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	if status == http.StatusOK {
		sum := sha256.Sum256(b)
		etag := `"` + hex.EncodeToString(sum[:12]) + `"`
		w.Header().Set("ETag", etag)
		if r != nil && (r.Method == http.MethodGet || r.Method == http.MethodHead) && etagMatches(r, etag) {
			w.WriteHeader(http.StatusNotModified)
			return nil
		}
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, err = w.Write(append(b, '\n'))
	return err
}
