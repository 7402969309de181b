package edgecast

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

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
	"github.com/cdnmetrics/cdnmetrics/internal/traffic"
)

// SimAccount is the account number the stand-in serves.
const SimAccount = "0001"

// SimClientID is the OAuth client id the stand-in's token endpoint knows
// (its secret is the simulator credential).
const SimClientID = "cdnmetrics-sim-client"

// SimPlatforms are the platforms the stand-in serves: model service i is
// served as platform SimPlatforms[i] (services beyond the list are not
// served).
var SimPlatforms = []string{"http_large", "http_small", "adn"}

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

// Simulate registers the real-time statistics stand-in and an OAuth token
// endpoint on mux. It answers with the rates of the last whole minute
// before sim.Now and sets Date to sim.Now, as the vendor's clock.
func Simulate(mux *http.ServeMux, sim collectors.SimEnv) {
	m := sim.Model
	secret := sim.Secret(provider)
	var mu sync.Mutex
	issued := map[string]bool{}
	mux.HandleFunc("POST /connect/token", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" {
			oauthError(w, http.StatusBadRequest, "unsupported_grant_type")
			return
		}
		if r.PostForm.Get("client_id") != SimClientID ||
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
		if r.PathValue("account") != SimAccount {
			http.Error(w, "Access denied to account", http.StatusForbidden)
			return
		}
		svc := -1
		if id, err := strconv.Atoi(r.PathValue("platform")); err == nil {
			for i, name := range SimPlatforms {
				if Platforms[name] == id && i < len(m.Services) {
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

// SimConfig points the collector at the stand-in with the TOK credential
// from collectors.SimSecretEnv.
func SimConfig(baseURL, dir string) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "[edgecast]\napi_url = %q\naccount = %q\ntoken_env = %q\nplatforms = [", baseURL, SimAccount, collectors.SimSecretEnv)
	for i, p := range SimPlatforms {
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
func Expect(m *traffic.Model, w collectors.Window) []schema.Record {
	start := w.End.Add(-step)
	if start.Before(w.Start) {
		return nil
	}
	var recs []schema.Record
	for i, name := range SimPlatforms {
		if i >= len(m.Services) {
			break
		}
		bps, cache, status := simSnapshot(m.SumAll(i, start.Unix(), w.End.Unix()))
		r := schema.Record{Provider: provider, Service: name, Location: schema.LocationAll, Start: start.Unix(), Step: 60}
		// The same conversions as Collect; the JSON round trip of a float64
		// is exact, so the values match to the bit.
		_ = mapBandwidth(bps, 60, &r.Counts)
		_ = mapCacheStatus(cache, 60, &r.Counts)
		_ = mapStatusCode(status, 60, &r.Counts)
		recs = append(recs, r)
	}
	return recs
}
