package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/cdnmetrics/cdnmetrics/internal/listen"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// MaxConnections caps the admin listener's open connections: a scraper
// and a health checker or two, not a public service.
const MaxConnections = 16

// Source is what the endpoints read.
type Source struct {
	Tracker *Tracker
	// Sink returns the sink's state now.
	Sink func() Sink
	// Prefix is graphite.prefix; SelfPoints returns the self-metrics at
	// a time (the points the daemon writes to <prefix>.cdnmetrics.*).
	Prefix     string
	SelfPoints func(now time.Time) []schema.Point
}

// Handler serves /healthz and /metrics from src. Only GET and HEAD.
func Handler(src Source) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		rep := src.Tracker.Check(src.Sink())
		body, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if rep.Status != "ok" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		w.Write(append(body, '\n'))
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		var b bytes.Buffer
		if err := WriteMetrics(&b, src.Prefix, src.SelfPoints(src.Tracker.now())); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", ContentType)
		w.Header().Set("Cache-Control", "no-store")
		w.Write(b.Bytes())
	})
	return mux
}

// Open binds addr with the shared listener caps; a failure is the
// caller's to treat as fatal.
func Open(addr string) (net.Listener, error) { return listen.Open(addr, MaxConnections) }

// Serve serves src on l until ctx ends, with every listener's timeouts.
func Serve(ctx context.Context, l net.Listener, src Source, log *slog.Logger) error {
	return listen.Serve(ctx, l, listen.NewServer(Handler(src), log), MaxConnections)
}
