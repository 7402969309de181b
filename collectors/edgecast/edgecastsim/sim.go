package edgecastsim

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
	"github.com/cdnmetrics/cdnmetrics/internal/simulate"
	"github.com/cdnmetrics/cdnmetrics/internal/traffic"
)

const (
	provider = "edgecast"
	step     = time.Minute
)

// platformIDs are EdgeCast's media type ids (the {platform} path segment)
// of the platforms the stand-in serves.
var platformIDs = map[string]int{"http_large": 3, "http_small": 8, "adn": 14}

// cacheRow and statusRow are the elements of the cachestatus and
// statuscode answers; number is a per-second rate.
type (
	number   float64
	cacheRow struct {
		CacheStatus string `json:"CacheStatus"`
		Connections number `json:"Connections"`
	}
	statusRow struct {
		Connections number `json:"Connections"`
		StatusCode  string `json:"StatusCode"`
	}
)

// Account is the account number the stand-in serves.
const Account = "0001"

// ClientID is the OAuth client id the stand-in's token endpoint knows
// (its secret is the simulator credential).
const ClientID = "cdnmetrics-sim-client"

// Platforms are the platforms the stand-in serves: model service i is
// served as platform Platforms[i] (services beyond the list are not
// served).
var Platforms = []string{"http_large", "http_small", "adn"}

// simSnapshot is what the stand-in answers for one model service over one
// minute: the minute's sums as per-second rates, in EdgeCast's shapes.
func simSnapshot(s traffic.Sample) (bps float64, cache []cacheRow, status []statusRow) {
	const sec = 60
	r := func(n int64) number { return number(float64(n) / sec) }
	other := s.Requests - s.Hits - s.Misses - s.Passes
	if other < 0 {
		other = 0
	}
	cache = []cacheRow{
		{"TCP_HIT", r(s.Hits)}, {"TCP_EXPIRED_HIT", 0}, {"TCP_MISS", r(s.Misses)}, {"TCP_EXPIRED_MISS", 0},
		{"TCP_CLIENT_REFRESH_MISS", 0}, {"NONE", r(other)}, {"CONFIG_NOCACHE", 0}, {"UNCACHEABLE", r(s.Passes)},
	}
	status = []statusRow{
		{r(s.Status2xx), "2xx"}, {r(s.Status3xx), "3xx"}, {r(s.Status4xx), "4xx"}, {0, "503"}, {r(s.Status5xx), "5xx"}, {0, "other"},
	}
	return float64(s.EdgeBytes()*8) / sec, cache, status
}

// Serve registers the real-time statistics stand-in and an OAuth token
// endpoint on mux. It answers with the rates of the last whole minute
// before sim.Now and sets Date to sim.Now, as the vendor's clock.
func Serve(mux *http.ServeMux, sim simulate.Env) {
	// The provider\'s own character, when the model gives it one.
	sim.Model = sim.Model.For(provider)
	m := sim.Model
	secret := sim.Secret(provider)
	var mu sync.Mutex
	issued := map[string]bool{}
	mux.HandleFunc("POST /connect/token", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" {
			oauthError(w, http.StatusBadRequest, "unsupported_grant_type")
			return
		}
		if r.PostForm.Get("client_id") != ClientID ||
			subtle.ConstantTimeCompare([]byte(r.PostForm.Get("client_secret")), []byte(secret)) != 1 {
			oauthError(w, http.StatusBadRequest, "invalid_client")
			return
		}
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		tok := "sim-" + hex.EncodeToString(b)
		mu.Lock()
		issued[tok] = true
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 3600, "scope": r.PostForm.Get("scope")})
	})
	authorized := func(h string) bool {
		if len(h) > 4 && strings.EqualFold(h[:4], "TOK:") {
			return subtle.ConstantTimeCompare([]byte(h[4:]), []byte(secret)) == 1
		}
		if tok, ok := strings.CutPrefix(h, "Bearer "); ok {
			mu.Lock()
			defer mu.Unlock()
			return issued[tok]
		}
		return false
	}
	mux.HandleFunc("GET /v2/realtimestats/customers/{account}/media/{platform}/{metric}", func(w http.ResponseWriter, r *http.Request) {
		now := sim.Now()
		w.Header().Set("Date", now.UTC().Format(http.TimeFormat))
		if !authorized(r.Header.Get("Authorization")) {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		if r.PathValue("account") != Account {
			http.Error(w, "Access denied to account", http.StatusForbidden)
			return
		}
		svc := -1
		if id, err := strconv.Atoi(r.PathValue("platform")); err == nil {
			for i, name := range Platforms {
				if platformIDs[name] == id && i < len(m.Services) {
					svc = i
				}
			}
		}
		if svc < 0 {
			http.Error(w, "Real-time statistics are not enabled for this platform", http.StatusBadRequest)
			return
		}
		end := now.Truncate(step).Unix()
		s := m.SumAll(svc, end-60, end)
		bps, cache, status := simSnapshot(s)
		var body any
		switch r.PathValue("metric") {
		case "bandwidth":
			body = map[string]float64{"Result": bps}
		case "connections":
			body = map[string]float64{"Result": float64(s.Requests) / 60}
		case "cachestatus":
			body = cache
		case "statuscode":
			body = status
		default:
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(body)
	})
}

func oauthError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code})
}

// Config points the collector at the stand-in with the TOK credential
// from collectors.SimSecretEnv.
func Config(baseURL, dir string) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "[edgecast]\napi_url = %q\naccount = %q\ntoken_env = %q\nplatforms = [", baseURL, Account, collectors.SimSecretEnv)
	for i, p := range Platforms {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", p)
	}
	b.WriteString("]\nschedule = \"@every 1m\"\n")
	return b.String(), nil
}

// Expect returns the records Collect emits for w against the stand-in when
// w is collected live, i.e. the stand-in's clock is within the minute
// after w.End (as when the scheduler runs it): one record per platform for
// w's last minute. A window collected later gets nothing (no history).
//
// It is computed from the model's minute and EdgeCast's documented
// meanings, not with the collector's mapping: every value is a per-second
// rate (the stand-in serves the minute's count / 60), so a count over the
// minute is the rate × 60; bandwidth is bits per second, so edge bytes are
// bits/s × 60 / 8; requests are every cache status, hits the TCP_*HIT
// statuses, misses the TCP_*MISS ones, passes CONFIG_NOCACHE and
// UNCACHEABLE; status classes add the class row and the exact codes in it.
// The rates are added in the order the stand-in lists them, as a reader of
// the answer would, so the float64 results match to the bit.
func Expect(m *traffic.Model, w collectors.Window) []schema.Record {
	m = m.For(provider) // what Serve serves
	start := w.End.Add(-step)
	if start.Before(w.Start) {
		return nil
	}
	const sec = 60
	rate := func(n int64) float64 { return float64(n) / sec }
	var recs []schema.Record
	for i, name := range Platforms {
		if i >= len(m.Services) {
			break
		}
		s := m.SumAll(i, start.Unix(), w.End.Unix())
		other := max(s.Requests-s.Hits-s.Misses-s.Passes, 0)
		r := schema.Record{Provider: provider, Service: name, Location: schema.LocationAll, Start: start.Unix(), Step: sec}
		r.Set(schema.EdgeBytes, float64(s.EdgeBytes()*8)/sec*sec/8)
		r.Set(schema.Requests, (rate(s.Hits)+0+rate(s.Misses)+0+0+rate(other)+0+rate(s.Passes))*sec)
		r.Set(schema.Hits, (rate(s.Hits)+0)*sec)
		r.Set(schema.Misses, (rate(s.Misses)+0+0)*sec)
		r.Set(schema.Passes, (0+rate(s.Passes))*sec)
		r.Set(schema.Status2xx, rate(s.Status2xx)*sec)
		r.Set(schema.Status3xx, rate(s.Status3xx)*sec)
		r.Set(schema.Status4xx, rate(s.Status4xx)*sec)
		r.Set(schema.Status5xx, (0+rate(s.Status5xx))*sec)
		recs = append(recs, r)
	}
	return recs
}
