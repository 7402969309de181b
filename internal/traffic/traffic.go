// Package traffic is the one deterministic CDN traffic model behind the
// simulator, the demo, the integration tests and the benchmarks. For a seed
// it gives, per service, POP and second, integer counts with a diurnal
// curve, per-POP hit ratios, noise, occasional 5xx bursts and scripted
// incidents. Every vendor stand-in serves sums of these seconds, so a test
// can ask the model what was served over any interval and compare it with
// what graphite-web renders.
package traffic

import (
	"math"
	"time"
)

// POP is one point of presence.
type POP struct {
	Code     string  // "LHR"
	Region   string  // Fastly historical region: "usa", "europe", "asia", ...
	Weight   float64 // share of the service's traffic
	HitRatio float64 // base cache hit ratio
}

// Service is one CDN service (Fastly service, Akamai CP code, zone...).
type Service struct {
	ID    string
	Name  string
	Scale float64 // requests per second at the diurnal mean, all POPs
}

// Incident changes the traffic of one service (all services when Service
// is "") over [Start, End): a hit-ratio drop after a bad deploy, a 5xx storm.
type Incident struct {
	Service       string
	Start, End    int64
	HitRatioDelta float64 // added to the POP's hit ratio (negative = worse)
	ErrorRate     float64 // share of requests answered 5xx, replacing the base
}

// Model is the traffic model. Its zero value is not useful: use Default.
type Model struct {
	Seed      int64
	Services  []Service
	POPs      []POP
	Incidents []Incident
	// BurstChance is the chance a (service, minute) has a 5xx burst.
	BurstChance float64
	// Episodes are recurring incidents of every service (a provider
	// degraded for a while, every so often).
	Episodes []Episode
	// Characters give providers their own network (see For). Nil, as in
	// Default, serves every provider the same traffic: the model's base.
	Characters map[string]Character
}

// Episode is an incident that recurs: over [k·Every+Offset,
// k·Every+Offset+Length) for every whole k, Unix seconds.
type Episode struct {
	Every, Offset, Length int64
	HitRatioDelta         float64 // added to every POP's hit ratio
	ErrorRate             float64 // share answered 5xx, replacing the base
}

// in reports whether second t falls into an episode.
func (e Episode) in(t int64) bool {
	if e.Every <= 0 || e.Length <= 0 {
		return false
	}
	r := (t - e.Offset) % e.Every
	if r < 0 {
		r += e.Every
	}
	return r < e.Length
}

// Character is how one provider's network differs from the model's base,
// so that a comparison of providers has something to find: its own share
// of the traffic, hit ratio, 5xx burst frequency and spells of
// degradation. (The quiet-minute 5xx share, 0.2 %, stays the model's: per
// POP and second it rounds to no 5xx at the simulator's rates, so errors
// come from bursts and spells.) Its noise differs too (For mixes the provider
// into the seed).
type Character struct {
	Scale         float64 // multiplies every service's rate; 0 means 1
	HitRatioDelta float64 // added to every POP's hit ratio
	BurstChance   float64 // replaces Model.BurstChance (0: no bursts)
	Degraded      []Episode
}

// For returns the model provider's stand-in serves from: m itself when m has
// no character for provider (every existing caller, and Default), or a
// copy with the character applied and no characters of its own. Stand-ins
// and their Expect functions both call it, so what Expect computes always
// follows what the stand-in serves.
func (m *Model) For(provider string) *Model {
	c, ok := m.Characters[provider]
	if !ok {
		return m
	}
	d := *m
	d.Characters = nil
	d.Seed = m.Seed ^ int64(fnv64(provider)>>1)
	scale := c.Scale
	if scale == 0 {
		scale = 1
	}
	d.Services = append([]Service(nil), m.Services...)
	for i := range d.Services {
		d.Services[i].Scale *= scale
	}
	d.POPs = append([]POP(nil), m.POPs...)
	for i := range d.POPs {
		d.POPs[i].HitRatio += c.HitRatioDelta
	}
	d.BurstChance = c.BurstChance
	d.Episodes = append(append([]Episode(nil), m.Episodes...), c.Degraded...)
	return &d
}

// fnv64 is FNV-1a of s.
func fnv64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// Default returns the model the simulator serves: three services on six
// POPs with different hit ratios.
func Default(seed int64) *Model {
	return &Model{
		Seed: seed,
		Services: []Service{
			{ID: "SU1Z0isxPaozGVKXdv0eY", Name: "www", Scale: 200},
			{ID: "7i6HN3TK9wS159v2gPAZ8A", Name: "api", Scale: 80},
			{ID: "2Vwb1E2LzdJ3h6GWlnXbYc", Name: "static", Scale: 120},
		},
		POPs: []POP{
			{Code: "LHR", Region: "europe", Weight: 0.25, HitRatio: 0.95},
			{Code: "FRA", Region: "europe", Weight: 0.15, HitRatio: 0.92},
			{Code: "IAD", Region: "usa", Weight: 0.25, HitRatio: 0.90},
			{Code: "SJC", Region: "usa", Weight: 0.15, HitRatio: 0.85},
			{Code: "NRT", Region: "asia", Weight: 0.12, HitRatio: 0.80},
			{Code: "SYD", Region: "anzac", Weight: 0.08, HitRatio: 0.70},
		},
		BurstChance: 0.02,
	}
}

// Demo returns Default with a character for every simulated provider, the
// model `--simulate` and the simulate command serve, so that the demo's
// compare has a verdict to give and its graph a difference to show. On a
// base mean hit ratio near 88 %:
//
//   - fastly (the default baseline): hit ratio +2 pp, rare 5xx bursts.
//   - cloudfront: a steady network: +2.5 pp and no 5xx bursts — it passes
//     against fastly.
//   - cloudflare: as good as fastly, but degraded for 10 minutes of every
//     40 (hit ratio −20 pp, 4 % 5xx): any 40-minute window (the demo's
//     compare window; collectors look back only an hour) holds exactly 10
//     degraded minutes, whatever the time of day, and fails.
//   - akamai: more traffic, hit ratio −3 pp (lower origin offload) and
//     frequent 5xx bursts — it fails on both.
//   - gcp: a hyperscaler CDN beside its own origin: 0.6× the traffic,
//     hit ratio −1 pp and occasional 5xx bursts.
//   - edgecast: half the traffic (its real-time API has no history).
//   - azure: 0.8× the traffic, hit ratio +2.5 pp and rare 5xx bursts — it
//     passes against fastly.
//   - gcore: 60 % of the traffic, hit ratio +1 pp, occasional 5xx bursts.
//   - bunny: 60 % of the traffic, hit ratio +1 pp, some 5xx bursts; its
//     hourly buckets make it "not comparable" in windows under an hour.
//
// Tests that need every provider to serve the same traffic use Default.
func Demo(seed int64) *Model {
	m := Default(seed)
	m.Characters = map[string]Character{
		"fastly":     {Scale: 1, HitRatioDelta: 0.02, BurstChance: 0.01},
		"cloudfront": {Scale: 0.7, HitRatioDelta: 0.025},
		"cloudflare": {Scale: 0.9, HitRatioDelta: 0.02, BurstChance: 0.005,
			Degraded: []Episode{{Every: 2400, Length: 600, HitRatioDelta: -0.20, ErrorRate: 0.04}}},
		"akamai":   {Scale: 1.2, HitRatioDelta: -0.03, BurstChance: 0.08},
		"gcp":      {Scale: 0.6, HitRatioDelta: -0.01, BurstChance: 0.03},
		"edgecast": {Scale: 0.5, HitRatioDelta: 0.01, BurstChance: 0.02},
		"azure":    {Scale: 0.8, HitRatioDelta: 0.025, BurstChance: 0.005},
		"gcore":    {Scale: 0.6, HitRatioDelta: 0.01, BurstChance: 0.01},
		"bunny":    {Scale: 0.6, HitRatioDelta: 0.01, BurstChance: 0.03},
	}
	return m
}

// Sample is what one service served at one POP over an interval.
type Sample struct {
	Requests, Hits, Misses, Passes, Errors     int64
	Status2xx, Status3xx, Status4xx, Status5xx int64
	EdgeHeaderBytes, EdgeBodyBytes             int64
	OriginFetches                              int64
	OriginHeaderBytes, OriginBodyBytes         int64
}

// Add adds o into s.
func (s *Sample) Add(o Sample) {
	s.Requests += o.Requests
	s.Hits += o.Hits
	s.Misses += o.Misses
	s.Passes += o.Passes
	s.Errors += o.Errors
	s.Status2xx += o.Status2xx
	s.Status3xx += o.Status3xx
	s.Status4xx += o.Status4xx
	s.Status5xx += o.Status5xx
	s.EdgeHeaderBytes += o.EdgeHeaderBytes
	s.EdgeBodyBytes += o.EdgeBodyBytes
	s.OriginFetches += o.OriginFetches
	s.OriginHeaderBytes += o.OriginHeaderBytes
	s.OriginBodyBytes += o.OriginBodyBytes
}

// EdgeBytes is header plus body bytes sent to clients.
func (s Sample) EdgeBytes() int64 { return s.EdgeHeaderBytes + s.EdgeBodyBytes }

// OriginBytes is header plus body bytes fetched from origin.
func (s Sample) OriginBytes() int64 { return s.OriginHeaderBytes + s.OriginBodyBytes }

// ServiceIndex returns the index of the service with the given id or name,
// or -1.
func (m *Model) ServiceIndex(idOrName string) int {
	for i, s := range m.Services {
		if s.ID == idOrName || s.Name == idOrName {
			return i
		}
	}
	return -1
}

// hash mixes the seed and coordinates into 64 well-spread bits (splitmix64).
func (m *Model) hash(a, b, c int64) uint64 {
	x := uint64(m.Seed)*0x9E3779B97F4A7C15 ^ uint64(a)*0xBF58476D1CE4E5B9 ^ uint64(b)*0x94D049BB133111EB ^ uint64(c)
	x ^= x >> 30
	x *= 0xBF58476D1CE4E5B9
	x ^= x >> 27
	x *= 0x94D049BB133111EB
	x ^= x >> 31
	return x
}

func unit(h uint64) float64 { return float64(h>>11) / (1 << 53) }

// At returns what service svc served at POP pop during second t.
func (m *Model) At(svc, pop int, t int64) Sample {
	s, p := m.Services[svc], m.POPs[pop]
	// Diurnal curve: peak at 14:00 UTC, trough at 02:00, 3:1.
	day := float64(t%86400) / 86400
	diurnal := 1 + 0.5*math.Sin(2*math.Pi*(day-0.333))
	h := m.hash(int64(svc), int64(pop), t)
	noise := 0.8 + 0.4*unit(h)
	rate := s.Scale * p.Weight * diurnal * noise
	// Poisson-ish rounding that keeps the mean: floor plus a Bernoulli.
	req := int64(rate)
	if unit(h*31+7) < rate-float64(req) {
		req++
	}
	if req == 0 {
		return Sample{}
	}
	hr, errRate := p.HitRatio, 0.002
	minute := t / 60
	if unit(m.hash(int64(svc), -1, minute)) < m.BurstChance {
		errRate = 0.05 + 0.1*unit(m.hash(int64(svc), -2, minute))
	}
	for _, in := range m.Incidents {
		if (in.Service == "" || in.Service == s.ID || in.Service == s.Name) && t >= in.Start && t < in.End {
			hr += in.HitRatioDelta
			if in.ErrorRate > 0 {
				errRate = in.ErrorRate
			}
		}
	}
	for _, e := range m.Episodes {
		if e.in(t) {
			hr += e.HitRatioDelta
			if e.ErrorRate > 0 {
				errRate = e.ErrorRate
			}
		}
	}
	hr = math.Max(0, math.Min(1, hr))
	var out Sample
	out.Requests = req
	out.Passes = int64(float64(req) * 0.03)
	cacheable := req - out.Passes
	out.Hits = int64(math.Round(float64(cacheable) * hr))
	out.Misses = cacheable - out.Hits
	out.Status5xx = int64(math.Round(float64(req) * errRate))
	out.Status4xx = int64(float64(req) * 0.01)
	out.Status3xx = int64(float64(req) * 0.05)
	if over := out.Status5xx + out.Status4xx + out.Status3xx - req; over > 0 {
		out.Status3xx -= min(over, out.Status3xx)
		out.Status4xx -= min(max(0, out.Status5xx+out.Status4xx+out.Status3xx-req), out.Status4xx)
	}
	out.Status2xx = req - out.Status5xx - out.Status4xx - out.Status3xx
	out.Errors = out.Status5xx / 2
	out.EdgeHeaderBytes = req * 420
	out.EdgeBodyBytes = req*18000 + int64(unit(h*17+3)*4000)
	out.OriginFetches = out.Misses + out.Passes
	out.OriginHeaderBytes = out.OriginFetches * 380
	out.OriginBodyBytes = out.OriginFetches * 16500
	return out
}

// Sum returns what svc served at pop over [from, to), Unix seconds.
func (m *Model) Sum(svc, pop int, from, to int64) Sample {
	var s Sample
	for t := from; t < to; t++ {
		s.Add(m.At(svc, pop, t))
	}
	return s
}

// SumAll returns what svc served at every POP over [from, to).
func (m *Model) SumAll(svc int, from, to int64) Sample {
	var s Sample
	for p := range m.POPs {
		s.Add(m.Sum(svc, p, from, to))
	}
	return s
}

// SumRegion returns what svc served at the POPs of region over [from, to).
func (m *Model) SumRegion(svc int, region string, from, to int64) Sample {
	var s Sample
	for p := range m.POPs {
		if m.POPs[p].Region == region {
			s.Add(m.Sum(svc, p, from, to))
		}
	}
	return s
}

// Regions returns the distinct POP regions in POP order.
func (m *Model) Regions() []string {
	var rs []string
	seen := map[string]bool{}
	for _, p := range m.POPs {
		if !seen[p.Region] {
			seen[p.Region] = true
			rs = append(rs, p.Region)
		}
	}
	return rs
}

// Clock is the simulator's notion of now; tests fix it.
type Clock func() time.Time
