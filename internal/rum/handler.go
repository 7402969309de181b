package rum

import (
	"context"
	_ "embed"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/config"
	"github.com/cdnmetrics/cdnmetrics/internal/listen"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

//go:embed rum.js
var script string

// ScriptPath is where the browser script is served.
const ScriptPath = "/rum.js"

// maxClientIPs bounds the per-second table of the rate limit; past it,
// new clients are refused for the rest of the second (and counted).
const maxClientIPs = 100000

// Option changes a Handler built by New.
type Option func(*Handler)

// WithLogger sets the logger (slog.Default() by default).
func WithLogger(l *slog.Logger) Option { return func(h *Handler) { h.log = l } }

// WithClock sets the clock (time.Now by default).
func WithClock(now func() time.Time) Option { return func(h *Handler) { h.now = now } }

// WithStateDir keeps the minute in progress in dir across a restart
// (state_dir/rum); without it a restart within a minute overwrites that
// minute's point with what came after the restart.
func WithStateDir(dir string) Option { return func(h *Handler) { h.stateDir = dir } }

// Handler serves POST <path>, OPTIONS <path> (CORS preflight) and GET
// /rum.js. Build it with New.
type Handler struct {
	cfg      config.RUM
	origins  map[string]bool // beacons
	nelOrig  map[string]bool // NEL reports: the reported hosts' origins too
	agg      *Aggregator
	count    *counters
	script   []byte
	log      *slog.Logger
	now      func() time.Time
	stateDir string
	limitMu  sync.Mutex
	limitSec int64
	perIP    map[string]int
}

// New builds the endpoint for the [rum] section cfg (validated by config).
func New(cfg config.RUM, opts ...Option) *Handler {
	h := &Handler{cfg: cfg, origins: map[string]bool{}, nelOrig: map[string]bool{}, log: slog.Default(), now: time.Now, perIP: map[string]int{}}
	for _, o := range opts {
		o(h)
	}
	h.log = h.log.With("component", "rum")
	h.count = newCounters(h.log, h.now)
	h.agg = NewAggregator(cfg.Providers, cfg.Services, cfg.MaxPOPs, h.count)
	for _, o := range cfg.AllowedOrigins {
		h.origins[o] = true
		h.nelOrig[o] = true
	}
	for host := range cfg.NEL.Hosts {
		h.nelOrig["https://"+host] = true
	}
	js := strings.Replace(script, "__PATH__", cfg.Path, 1)
	js = strings.Replace(js, "__RATE__", strconv.FormatFloat(cfg.SampleRate, 'f', -1, 64), 1)
	h.script = []byte(js)
	return h
}

// Aggregator is where accepted entries go.
func (h *Handler) Aggregator() *Aggregator { return h.agg }

// Counter returns a self-metric counter by name (see Counters).
func (h *Handler) Counter(name string) int64 { return h.count.get(name) }

// SelfPoints are the counters as <prefix>.cdnmetrics.rum.* at now.
func (h *Handler) SelfPoints(prefix string, now time.Time) []schema.Point {
	return h.count.points(prefix, now)
}

// empty answers code with no body: nothing of the request is echoed.
func empty(w http.ResponseWriter, code int) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(code)
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case ScriptPath:
		h.serveScript(w, r)
	case h.cfg.Path:
		h.serveBeacon(w, r)
	default:
		empty(w, http.StatusNotFound)
	}
}

func (h *Handler) serveScript(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		empty(w, http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Length", strconv.Itoa(len(h.script)))
	if r.Method == http.MethodGet {
		w.Write(h.script)
	}
}

// kind of a POST body, by its Content-Type.
const (
	kindBeacon = iota
	kindNEL
	kindNone
)

func bodyKind(ct string) int {
	if ct == "" {
		return kindBeacon // sendBeacon with a string sets text/plain; curl may set none
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return kindNone
	}
	switch mt {
	case "text/plain", "application/json", "application/x-ndjson", "application/jsonl":
		return kindBeacon
	case "application/reports+json":
		return kindNEL
	}
	return kindNone
}

// allowOrigin sets the CORS headers when origin may send kind; a browser
// always sends Origin on a cross-origin POST, so a missing one is refused
// for beacons, and tolerated for NEL (the reporting agent may send none).
func (h *Handler) allowOrigin(w http.ResponseWriter, origin string, kind int) bool {
	w.Header().Add("Vary", "Origin")
	if origin == "" {
		return kind == kindNEL
	}
	ok := h.origins[origin]
	if kind == kindNEL {
		ok = h.nelOrig[origin]
	}
	if !ok {
		return false
	}
	w.Header().Set("Access-Control-Allow-Origin", origin)
	w.Header().Set("Access-Control-Allow-Credentials", "true")
	return true
}

// clientIP is the connection's address: a header could be forged. An
// IPv6 address counts by its /64, the least one client is given: per full
// address, a client could pick a new one for every beacon.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	if a, err := netip.ParseAddr(host); err == nil && a.Unmap().Is6() {
		if p, err := a.Unmap().Prefix(64); err == nil {
			return p.String()
		}
	}
	return host
}

// allow counts one beacon of ip in the current second.
func (h *Handler) allow(ip string) bool {
	sec := h.now().Unix()
	h.limitMu.Lock()
	defer h.limitMu.Unlock()
	if sec != h.limitSec {
		h.limitSec = sec
		clear(h.perIP)
	}
	n, seen := h.perIP[ip]
	if !seen && len(h.perIP) >= maxClientIPs {
		return false
	}
	if n >= h.cfg.MaxBeaconsPerSecond {
		return false
	}
	h.perIP[ip] = n + 1
	return true
}

func (h *Handler) serveBeacon(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	if r.Method == http.MethodOptions {
		kind := kindBeacon
		if strings.Contains(strings.ToLower(r.Header.Get("Access-Control-Request-Headers")), "content-type") {
			kind = kindNEL // only a non-safelisted type needs a preflight
		}
		if !h.allowOrigin(w, origin, kind) && !h.allowOrigin(w, origin, kindBeacon) {
			h.count.drop("dropped_origin", 1, "rum preflight refused: origin not allowed")
			empty(w, http.StatusForbidden)
			return
		}
		w.Header().Set("Access-Control-Allow-Methods", "POST")
		w.Header().Set("Access-Control-Allow-Headers", "Content-Type")
		w.Header().Set("Access-Control-Max-Age", "600")
		empty(w, http.StatusNoContent)
		return
	}
	if r.Method != http.MethodPost {
		h.count.drop("dropped_method", 1, "rum request refused: not a POST", "method", safeToken(r.Method))
		w.Header().Set("Allow", "POST, OPTIONS")
		empty(w, http.StatusMethodNotAllowed)
		return
	}
	kind := bodyKind(r.Header.Get("Content-Type"))
	if kind == kindNone {
		h.count.drop("dropped_content_type", 1, "rum request refused: content type not accepted")
		empty(w, http.StatusUnsupportedMediaType)
		return
	}
	if !h.allowOrigin(w, origin, kind) {
		h.count.drop("dropped_origin", 1, "rum request refused: origin not allowed")
		w.Header().Set("Connection", "close")
		empty(w, http.StatusForbidden)
		return
	}
	ip := clientIP(r)
	if !h.allow(ip) {
		h.count.drop("dropped_rate_limited", 1, "rum request refused: client over max_beacons_per_second", "limit", h.cfg.MaxBeaconsPerSecond)
		w.Header().Set("Retry-After", "1")
		w.Header().Set("Connection", "close")
		empty(w, http.StatusTooManyRequests)
		return
	}
	if r.ContentLength > h.cfg.MaxBodyBytes {
		h.count.drop("dropped_too_large", 1, "rum request refused: body too large", "limit", h.cfg.MaxBodyBytes)
		w.Header().Set("Connection", "close")
		empty(w, http.StatusRequestEntityTooLarge)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.count.drop("dropped_too_large", 1, "rum request refused: body too large", "limit", h.cfg.MaxBodyBytes)
			empty(w, http.StatusRequestEntityTooLarge)
			return
		}
		h.count.drop("dropped_unreadable", 1, "rum request refused: body unreadable")
		empty(w, http.StatusBadRequest)
		return
	}
	cc := ""
	if hd := h.cfg.CountryHeader; hd != "" {
		if v := r.Header.Get(hd); v != "" {
			if cc = country(v); cc == "" {
				h.count.drop("bad_country", 1, "rum country header is not an assigned ISO 3166 alpha-2 code", "header", hd)
			}
		}
	}
	now := h.now()
	if kind == kindNEL {
		h.takeNEL(w, body, cc, now)
		return
	}
	entries, extra, bad, err := parseBeacon(body, h.cfg.MaxEntries)
	if err != nil {
		h.count.drop("dropped_malformed", 1, "rum beacon refused: malformed", "err", err)
		empty(w, http.StatusBadRequest)
		return
	}
	if extra > 0 {
		h.count.drop("dropped_too_many_entries", int64(extra), "rum beacon entries over max_entries dropped", "limit", h.cfg.MaxEntries)
	}
	if bad > 0 {
		h.count.drop("dropped_entry_malformed", int64(bad), "rum beacon entries dropped: not objects of the beacon's shape")
	}
	h.count.add("beacons", 1)
	for _, e := range entries {
		h.agg.Add(e, cc, now)
	}
	empty(w, http.StatusNoContent)
}

func (h *Handler) takeNEL(w http.ResponseWriter, body []byte, cc string, now time.Time) {
	hosts, bad, extra, err := parseNEL(body, h.cfg.MaxEntries)
	if err != nil {
		h.count.drop("dropped_malformed", 1, "rum NEL body refused: malformed", "err", err)
		empty(w, http.StatusBadRequest)
		return
	}
	if extra > 0 {
		h.count.drop("dropped_too_many_entries", int64(extra), "rum NEL reports over max_entries dropped", "limit", h.cfg.MaxEntries)
	}
	if bad > 0 {
		h.count.drop("dropped_nel_malformed", int64(bad), "rum NEL reports dropped: not network-error reports with a URL")
	}
	for _, host := range hosts {
		prov, ok := h.cfg.NEL.Hosts[host]
		if !ok {
			h.count.drop("dropped_nel_host", 1, "rum NEL report dropped: host not in rum.nel.hosts")
			continue
		}
		h.count.add("nel_reports", 1)
		h.agg.AddError(prov, cc, now)
	}
	empty(w, http.StatusNoContent)
}

// safeToken keeps a request token for a log line only when it is a short
// run of letters (an HTTP method); anything else is not logged.
func safeToken(s string) string {
	if len(s) > 16 || strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
		return "(not a method)"
	}
	return s
}

// flushEvery is how often closed minutes are emitted.
const flushEvery = 5 * time.Second

// Serve serves h on l (capped at max_connections) and emits every closed
// minute through e until ctx is done; then it stops the listener and
// emits the minute in progress too, so that a stop loses nothing
// received.
func (h *Handler) Serve(ctx context.Context, l net.Listener, e collectors.Emitter) error {
	if h.stateDir != "" {
		n, err := h.agg.loadOpen(h.stateDir, h.now())
		if err != nil {
			h.log.Error("rum minute saved at the last stop not restored", "err", err)
		} else if n > 0 {
			h.log.Info("rum minute in progress restored from the last stop", "cells", n)
		}
	}
	mux := http.NewServeMux()
	mux.Handle("/", h)
	h.log.Info("rum endpoint listening", "addr", l.Addr().String(), "path", h.cfg.Path, "script", ScriptPath)
	served := make(chan error, 1)
	go func() { served <- listen.Serve(ctx, l, listen.NewServer(mux, h.log), h.cfg.MaxConnections) }()
	tick := time.NewTicker(flushEvery)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			h.emit(ctx, e, h.agg.Flush(h.now(), false))
		case <-ctx.Done():
			return h.final(e, <-served)
		case err := <-served: // the listener failed before the stop
			return h.final(e, err)
		}
	}
}

// final emits every minute still held, the one in progress included,
// and keeps that one in the state directory for a start within the
// minute (which then emits the whole minute over this partial point).
func (h *Handler) final(e collectors.Emitter, err error) error {
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	now := h.now()
	if h.stateDir != "" {
		if serr := h.agg.saveOpen(h.stateDir, now); serr != nil {
			h.log.Error("rum minute in progress not saved: a start within the minute will overwrite its point with the rest of the minute", "err", serr)
		}
	}
	h.emit(sctx, e, h.agg.Flush(now, true))
	return err
}

func (h *Handler) emit(ctx context.Context, e collectors.Emitter, gs []schema.Gauge) {
	if len(gs) == 0 {
		return
	}
	if err := e.Emit(ctx, collectors.Batch{Gauges: gs}); err != nil {
		h.log.Error("rum points not delivered", "points", len(gs), "err", err)
	}
}
