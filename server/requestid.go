package server

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"time"

	"github.com/wimp-project/wimp/host"
)

// maxRequestID bounds a client's X-Request-Id; a longer or unprintable one is replaced.
const maxRequestID = 128

// validRequestID reports whether a client's X-Request-Id may be kept: 1 to 128 characters of
// letters, digits and "-._:" (what UUIDs, ULIDs and tracing ids use; nothing that could break a
// log line or a header).
func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestID {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == ':') {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// accessLog gives every request an id — the client's X-Request-Id when it is valid, else a new
// one — returned as X-Request-Id, carried in the context (the tracking record of a management
// operation names it), and logged with the request's outcome in one access line.
func accessLog(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !validRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set("X-Request-Id", id)
		op := new(string)
		sw := &statusWriter{ResponseWriter: w}
		ctx := withOperationHolder(host.WithRequestID(r.Context(), id), op)
		next.ServeHTTP(sw, r.WithContext(ctx))
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		log.Info("request", "id", id, "method", r.Method, "path", r.URL.Path, "operation", *op, "status", sw.status,
			"duration", time.Since(start), "remote", r.RemoteAddr)
	})
}
