// Package rumsim plays the users' browsers for the demo (`run --simulate`
// with [rum] listen set): every second it posts, per simulated provider, a
// beacon of synthetic entries to the daemon's real POST /rum, with cache
// statuses drawn from the traffic model's hits and misses at that second
// (so a provider's degraded episodes show as a lower hit share and a
// higher TTFB) and timings from a deterministic per-POP network. The
// browser script and a real browser are exercised by the e2e test; this
// is only the demo's feed.
package rumsim

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/cdnmetrics/cdnmetrics/internal/traffic"
)

// Options configure Run.
type Options struct {
	URL           string // http://host:port/rum
	Origin        string // an allowed page origin
	Model         *traffic.Model
	Providers     []string
	Service       string
	CountryHeader string   // "" sends no country
	Countries     []string // cycled through per beacon
	EntriesPerSec int      // per provider; default 10
	Client        *http.Client
}

// Entry is one synthetic beacon entry (the shape rum.js sends).
type Entry struct {
	Provider string  `json:"provider"`
	Service  string  `json:"service"`
	POP      string  `json:"pop"`
	Cache    string  `json:"cache"`
	Protocol string  `json:"protocol"`
	Connect  float64 `json:"connect_ms"`
	TLS      float64 `json:"tls_ms"`
	TTFB     float64 `json:"ttfb_ms"`
	Download float64 `json:"download_ms"`
	Size     float64 `json:"size"`
}

func unit(parts ...any) float64 {
	h := fnv.New64a()
	fmt.Fprint(h, parts...)
	return float64(h.Sum64()>>11) / (1 << 53)
}

// Entries are provider's n entries for second t: entry i is a hit when i
// is below n × the model's hit ratio at that second (hits / (hits +
// misses) over the POPs), its TTFB the POP's round trip (15 + 8·POP index
// ms, ±30 %) plus, for a miss, an origin fetch of 120 ms.
func Entries(m *traffic.Model, provider, service string, t int64, n int) []Entry {
	pm := m.For(provider)
	var hits, misses int64
	for pop := range pm.POPs {
		s := pm.At(0, pop, t)
		hits += s.Hits
		misses += s.Misses
	}
	hr := 0.0
	if hits+misses > 0 {
		hr = float64(hits) / float64(hits+misses)
	}
	out := make([]Entry, 0, n)
	for i := 0; i < n; i++ {
		pop := int(unit(provider, t, i, "pop") * float64(len(pm.POPs)))
		rtt := (15 + 8*float64(pop)) * (0.7 + 0.6*unit(provider, t, i, "rtt"))
		e := Entry{Provider: provider, Service: service, POP: pm.POPs[pop].Code, Cache: "HIT", Protocol: "h2",
			Connect: math.Round(rtt*2*10) / 10, TLS: math.Round(rtt*10) / 10, TTFB: math.Round(rtt*10) / 10,
			Size: 18000, Download: math.Round((2+6*unit(provider, t, i, "dl"))*10) / 10}
		if float64(i) >= hr*float64(n) {
			e.Cache = "MISS"
			e.TTFB = math.Round((rtt+120)*10) / 10
		}
		out = append(out, e)
	}
	return out
}

// Run posts beacons every second until ctx is done.
func Run(ctx context.Context, o Options) {
	if o.EntriesPerSec <= 0 {
		o.EntriesPerSec = 10
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 5 * time.Second}
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	k := 0
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			for _, p := range o.Providers {
				var b strings.Builder
				for _, e := range Entries(o.Model, p, o.Service, now.Unix(), o.EntriesPerSec) {
					line, _ := json.Marshal(e)
					b.Write(line)
					b.WriteByte('\n')
				}
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.URL, strings.NewReader(b.String()))
				if err != nil {
					return
				}
				req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
				req.Header.Set("Origin", o.Origin)
				if o.CountryHeader != "" && len(o.Countries) > 0 {
					req.Header.Set(o.CountryHeader, o.Countries[k%len(o.Countries)])
					k++
				}
				if resp, err := o.Client.Do(req); err == nil {
					resp.Body.Close()
				}
			}
		}
	}
}
