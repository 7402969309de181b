package fastlysim

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
	"github.com/cdnmetrics/cdnmetrics/internal/simulate"
	"github.com/cdnmetrics/cdnmetrics/internal/traffic"
)

// Fastly's Origin Inspector and Domain Inspector, from the traffic model.
// The model knows services, POPs and seconds, not origins or domains, so
// the stand-in splits each model second deterministically (OriginAt,
// DomainAt): every origin fetch of a (service, POP, second) went to one of
// the service's two origins, every request to one of its two domains. The
// real-time feeds and the historical API serve sums of those seconds, and
// ExpectInspectors sums the same seconds, so what the collector writes can
// be checked against the model without the collector's mapping.

// simInspectPerPage is how many origins (or domains) one historical page
// holds: one, so that even the model's two origins page through
// meta.next_cursor.
const simInspectPerPage = 1

// Origins are the two origins (backends) of a simulated service: the
// application and an object store. The second name has a space and a
// slash, as backend names can, so the collector's sanitiser is exercised.
func Origins(service string) [2]string {
	return [2]string{"origin." + service + ".example.com", "S3 Bucket/" + service}
}

// Domains are the two hostnames a simulated service answers for.
func Domains(service string) [2]string {
	return [2]string{service + ".example.com", service + ".example.org"}
}

// numLatency is the number of Fastly's origin latency buckets;
// latencyFields their names, latencyLower their lower bounds in ms (each
// ends where the next begins, the last is open-ended), as Fastly's API
// reference lists them.
const numLatency = 12

var (
	latencyFields = [numLatency]string{
		"latency_0_to_1ms", "latency_1_to_5ms", "latency_5_to_10ms", "latency_10_to_50ms",
		"latency_50_to_100ms", "latency_100_to_250ms", "latency_250_to_500ms", "latency_500_to_1000ms",
		"latency_1000_to_5000ms", "latency_5000_to_10000ms", "latency_10000_to_60000ms", "latency_60000ms",
	}
	latencyLower = [numLatency]float64{0, 1, 5, 10, 50, 100, 250, 500, 1000, 5000, 10000, 60000}
)

// OriginCounts is what one origin answered over an interval.
type OriginCounts struct {
	Responses, HeaderBytes, BodyBytes int64
	Status                            [4]int64 // 2xx, 3xx, 4xx, 5xx
	Latency                           [numLatency]int64
}

func (c *OriginCounts) add(o OriginCounts) {
	c.Responses += o.Responses
	c.HeaderBytes += o.HeaderBytes
	c.BodyBytes += o.BodyBytes
	for i := range c.Status {
		c.Status[i] += o.Status[i]
	}
	for i := range c.Latency {
		c.Latency[i] += o.Latency[i]
	}
}

// DomainCounts is what one domain served over an interval.
type DomainCounts struct {
	Requests, EdgeHeaderBytes, EdgeBodyBytes, Hits, Misses int64
}

func (c *DomainCounts) add(o DomainCounts) {
	c.Requests += o.Requests
	c.EdgeHeaderBytes += o.EdgeHeaderBytes
	c.EdgeBodyBytes += o.EdgeBodyBytes
	c.Hits += o.Hits
	c.Misses += o.Misses
}

// regionLatency is the latency bucket most fetches of a POP take: the
// origins are in Europe.
var regionLatency = map[string]int{"europe": 3, "usa": 4, "asia": 6, "anzac": 6}

// OriginAt is what service svc's origins answered POP pop in second t:
// which origin (0 or 1) took every fetch of that second, and its counts;
// ok is false when the POP fetched nothing. The object store takes the
// seconds where (t + pop) is a multiple of 4. Origin 5xx are the model's
// 5xx (bursts are origin failures), then its 4xx and 3xx as far as the
// fetches go; the rest are 2xx. Latency: the POP's region's bucket, one
// bucket slower for the object store and in every tenth second, and the
// 5xx in 1–5 s (time-outs), so a burst moves the p95.
func OriginAt(m *traffic.Model, svc, pop int, t int64) (which int, c OriginCounts, ok bool) {
	s := m.At(svc, pop, t)
	f := s.OriginFetches
	if f <= 0 {
		return 0, c, false
	}
	if (t+int64(pop))%4 == 0 {
		which = 1
	}
	c.Responses = f
	c.HeaderBytes, c.BodyBytes = s.OriginHeaderBytes, s.OriginBodyBytes
	c.Status[3] = min(s.Status5xx, f)
	c.Status[2] = min(s.Status4xx, f-c.Status[3])
	c.Status[1] = min(s.Status3xx, f-c.Status[3]-c.Status[2])
	c.Status[0] = f - c.Status[3] - c.Status[2] - c.Status[1]
	b, ok := regionLatency[m.POPs[pop].Region]
	if !ok {
		b = 5
	}
	if which == 1 {
		b++
	}
	if t%10 == 0 {
		b++
	}
	c.Latency[b] += f - c.Status[3]
	c.Latency[8] += c.Status[3]
	return which, c, true
}

// DomainAt is what service svc served at POP pop in second t under one of
// its domains (the second one takes the seconds where (t + pop) is a
// multiple of 3): the model's requests, edge bytes, hits and misses.
func DomainAt(m *traffic.Model, svc, pop int, t int64) (which int, c DomainCounts, ok bool) {
	s := m.At(svc, pop, t)
	if s.Requests <= 0 {
		return 0, c, false
	}
	if (t+int64(pop))%3 == 0 {
		which = 1
	}
	return which, DomainCounts{Requests: s.Requests, EdgeHeaderBytes: s.EdgeHeaderBytes, EdgeBodyBytes: s.EdgeBodyBytes,
		Hits: s.Hits, Misses: s.Misses}, true
}

// sumOrigins sums OriginAt over [from, to) at the POPs for which usePOP
// holds, per origin.
func sumOrigins(m *traffic.Model, svc int, usePOP func(int) bool, from, to int64) [2]OriginCounts {
	var out [2]OriginCounts
	for p := range m.POPs {
		if !usePOP(p) {
			continue
		}
		for t := from; t < to; t++ {
			if w, c, ok := OriginAt(m, svc, p, t); ok {
				out[w].add(c)
			}
		}
	}
	return out
}

// sumDomains sums DomainAt like sumOrigins.
func sumDomains(m *traffic.Model, svc int, usePOP func(int) bool, from, to int64) [2]DomainCounts {
	var out [2]DomainCounts
	for p := range m.POPs {
		if !usePOP(p) {
			continue
		}
		for t := from; t < to; t++ {
			if w, c, ok := DomainAt(m, svc, p, t); ok {
				out[w].add(c)
			}
		}
	}
	return out
}

func allPOPs(int) bool { return true }

// originFields lists an origin's counts under the Origin Inspector's field
// names, zero-valued ones left out (both feeds are sparse), plus fields
// cdnmetrics does not read (a per-code status, a WAF count).
func originFields(c OriginCounts) map[string]any {
	f := map[string]any{}
	put := func(k string, v int64) {
		if v != 0 {
			f[k] = v
		}
	}
	put("responses", c.Responses)
	put("resp_header_bytes", c.HeaderBytes)
	put("resp_body_bytes", c.BodyBytes)
	for i, v := range c.Status {
		put("status_"+strconv.Itoa(i+2)+"xx", v)
	}
	for i, v := range c.Latency {
		put(latencyFields[i], v)
	}
	put("status_200", c.Status[0])
	put("waf_responses", c.Responses/50)
	return f
}

// domainFields lists a domain's counts under the Domain Inspector's field
// names, sparse, plus fields cdnmetrics does not read (edge_requests,
// Fastly's own edge_hit_ratio, bandwidth).
func domainFields(c DomainCounts) map[string]any {
	f := map[string]any{}
	put := func(k string, v int64) {
		if v != 0 {
			f[k] = v
		}
	}
	put("requests", c.Requests)
	put("edge_requests", c.Requests)
	put("edge_resp_header_bytes", c.EdgeHeaderBytes)
	put("edge_resp_body_bytes", c.EdgeBodyBytes)
	put("edge_hit_requests", c.Hits)
	put("edge_miss_requests", c.Misses)
	put("bandwidth", c.EdgeHeaderBytes+c.EdgeBodyBytes)
	if c.Hits+c.Misses > 0 {
		f["edge_hit_ratio"] = float64(c.Hits) / float64(c.Hits+c.Misses)
	}
	return f
}

// inspectFeed is one inspector feed of the stand-in.
type inspectFeed struct {
	name    string // URL element: origins, domains
	groupBy string // the historical API's dimension of a series
	// second returns the per-name entries of service svc at POP pop in
	// second t (nil when nothing), in Fastly's shape.
	second func(m *traffic.Model, svc, pop int, t int64) map[string]any
	// sum returns the per-name fields over [from, to) at the POPs usePOP
	// selects, names without traffic left out.
	sum func(m *traffic.Model, svc int, usePOP func(int) bool, from, to int64) map[string]map[string]any
}

var simFeeds = []inspectFeed{
	{name: "origins", groupBy: "host",
		second: func(m *traffic.Model, svc, pop int, t int64) map[string]any {
			w, c, ok := OriginAt(m, svc, pop, t)
			if !ok {
				return nil
			}
			return map[string]any{Origins(m.Services[svc].Name)[w]: originFields(c)}
		},
		sum: func(m *traffic.Model, svc int, usePOP func(int) bool, from, to int64) map[string]map[string]any {
			out := map[string]map[string]any{}
			for i, c := range sumOrigins(m, svc, usePOP, from, to) {
				if c.Responses > 0 {
					out[Origins(m.Services[svc].Name)[i]] = originFields(c)
				}
			}
			return out
		}},
	{name: "domains", groupBy: "domain",
		second: func(m *traffic.Model, svc, pop int, t int64) map[string]any {
			w, c, ok := DomainAt(m, svc, pop, t)
			if !ok {
				return nil
			}
			return map[string]any{Domains(m.Services[svc].Name)[w]: domainFields(c)}
		},
		sum: func(m *traffic.Model, svc int, usePOP func(int) bool, from, to int64) map[string]map[string]any {
			out := map[string]map[string]any{}
			for i, c := range sumDomains(m, svc, usePOP, from, to) {
				if c.Requests > 0 {
					out[Domains(m.Services[svc].Name)[i]] = domainFields(c)
				}
			}
			return out
		}},
}

// serveInspectors registers the entitlement API, the inspector real-time
// feeds and their historical API on mux.
func serveInspectors(mux *http.ServeMux, sim simulate.Env, m *traffic.Model, auth func(bool, http.HandlerFunc) http.HandlerFunc) {
	// The simulated account has both products.
	mux.HandleFunc("GET /entitled-products/{product}", auth(false, func(w http.ResponseWriter, r *http.Request) {
		p := r.PathValue("product")
		writeJSON(w, http.StatusOK, map[string]any{"has_access": p == "origin_inspector" || p == "domain_inspector", "product": map[string]any{"id": p}})
	}))
	for _, fd := range simFeeds {
		// Real time: like the channel, one more level (a name) below the
		// POP and the aggregate.
		mux.HandleFunc("GET /v1/"+fd.name+"/{id}/ts/{ts}", auth(true, rtHandler(sim, m, func(svc int, t int64) map[string]any {
			dc := map[string]any{}
			agg := map[string]map[string]any{}
			for p := range m.POPs {
				e := fd.second(m, svc, p, t)
				if e == nil {
					continue
				}
				dc[m.POPs[p].Code] = e
			}
			if len(dc) == 0 {
				return nil
			}
			// Fastly's aggregate: the names' sums over the POPs of this second.
			for name, f := range fd.sum(m, svc, allPOPs, t, t+1) {
				agg[name] = f
			}
			return map[string]any{"datacenter": dc, "aggregated": agg, "recorded": t}
		})))
		mux.HandleFunc("GET /metrics/"+fd.name+"/services/{id}", auth(false, historicalHandler(sim, m, fd)))
	}
}

// historyCursor encodes the index of the next page's first name; Fastly's
// cursors are opaque strings.
func historyCursor(next int) string {
	return base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf(`{"name":%d}`, next)))
}

func parseHistoryCursor(s string) (int, bool) {
	if s == "" {
		return 0, true
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return 0, false
	}
	var n int
	if _, err := fmt.Sscanf(string(b), `{"name":%d}`, &n); err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// historicalHandler serves GET /metrics/{feed}/services/{id}?start&end&
// downsample=minute&group_by=<dimension>[,datacenter]: one series per name
// (and POP), its values the published minutes with traffic, each stamped
// with its start as timestamp, simInspectPerPage names a page.
func historicalHandler(sim simulate.Env, m *traffic.Model, fd inspectFeed) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		svc := m.ServiceIndex(r.PathValue("id"))
		if svc < 0 || m.Services[svc].ID != r.PathValue("id") {
			writeJSON(w, http.StatusNotFound, map[string]any{"msg": "Record not found", "detail": "Cannot find service"})
			return
		}
		q := r.URL.Query()
		start, err1 := strconv.ParseInt(q.Get("start"), 10, 64)
		end, err2 := strconv.ParseInt(q.Get("end"), 10, 64)
		perPOP := q.Get("group_by") == fd.groupBy+",datacenter"
		offset, cursorOK := parseHistoryCursor(q.Get("cursor"))
		if err1 != nil || err2 != nil || end < start || q.Get("downsample") != "minute" ||
			(q.Get("group_by") != fd.groupBy && !perPOP) || !cursorOK {
			writeJSON(w, http.StatusBadRequest, map[string]any{"status": "error", "msg": "start, end (epoch seconds), downsample=minute, group_by=" + fd.groupBy + "[,datacenter] and a cursor of this API required"})
			return
		}
		avail := sim.Now().Add(-simLag).Unix() // minutes ending by then are published
		type series struct {
			dims   map[string]any
			values []map[string]any
		}
		var all []series
		index := map[string]int{}
		locs := []int{-1}
		if perPOP {
			locs = locs[:0]
			for p := range m.POPs {
				locs = append(locs, p)
			}
		}
		for _, p := range locs {
			use := allPOPs
			if p >= 0 {
				use = func(i int) bool { return i == p }
			}
			for st := start + (60-start%60)%60; st+60 <= min(end, avail); st += 60 {
				for name, f := range fd.sum(m, svc, use, st, st+60) {
					key := name
					dims := map[string]any{fd.groupBy: name}
					if p >= 0 {
						key += "\x00" + m.POPs[p].Code
						dims["datacenter"] = m.POPs[p].Code
					}
					i, ok := index[key]
					if !ok {
						i = len(all)
						index[key] = i
						all = append(all, series{dims: dims})
					}
					f["timestamp"] = st
					all[i].values = append(all[i].values, f)
				}
			}
		}
		// A fixed series order (map order is random): by name, then POP.
		sort.SliceStable(all, func(i, j int) bool {
			return fmt.Sprint(all[i].dims[fd.groupBy], all[i].dims["datacenter"]) < fmt.Sprint(all[j].dims[fd.groupBy], all[j].dims["datacenter"])
		})
		// A page holds the series of simInspectPerPage names (each name's
		// POPs together with inspectors_per_pop).
		var names []any
		for _, sr := range all {
			if len(names) == 0 || names[len(names)-1] != sr.dims[fd.groupBy] {
				names = append(names, sr.dims[fd.groupBy])
			}
		}
		data := []map[string]any{}
		for _, sr := range all {
			for _, n := range names[min(offset, len(names)):min(offset+simInspectPerPage, len(names))] {
				if sr.dims[fd.groupBy] == n {
					data = append(data, map[string]any{"dimensions": sr.dims, "values": sr.values})
				}
			}
		}
		var next any // null on the last page, as Fastly sends it
		if offset+simInspectPerPage < len(names) {
			next = historyCursor(offset + simInspectPerPage)
		}
		rfc := func(t int64) string { return time.Unix(t, 0).UTC().Format(time.RFC3339) }
		meta := map[string]any{"start": rfc(start), "end": rfc(end), "downsample": "minute", "metrics": "all",
			"limit": simInspectPerPage, "next_cursor": next, "sort": "timestamp", "group_by": q.Get("group_by"), "filters": map[string]any{}}
		writeJSON(w, http.StatusOK, map[string]any{"status": "success", "msg": nil, "meta": meta, "data": data})
	}
}

// ExpectInspectors is what Collect over w writes for the inspector feeds
// against the stand-in configured by Config (w published, location all):
// per service, origin or domain and minute with traffic, the metrics
// cdnmetrics documents, computed from the model's seconds (OriginAt,
// DomainAt) and Fastly's field meanings: responses; origin_bytes =
// response header + body bytes; the status classes; the 12 latency
// bucket counts under Fastly's names; latency_p50_ms / latency_p95_ms
// from the bucket counts (Percentile); requests; edge_bytes = edge
// header + body bytes; hits, misses and hit_ratio = hits / (hits +
// misses) when there were any.
func ExpectInspectors(m *traffic.Model, prefix string, w collectors.Window) []schema.Point {
	m = m.For("fastly") // what Serve serves
	var pts []schema.Point
	from := w.Start.Unix() + (60-w.Start.Unix()%60)%60
	for svc := range m.Services {
		for st := from; st+60 <= w.End.Unix(); st += 60 {
			pts = AppendInspectorPoints(pts, m, prefix, svc, schema.LocationAll, allPOPs, st, st+60)
		}
	}
	return pts
}

// ExpectInspectorsRT is what the inspector streams write for service svc
// in the bucket [start, start+res) at location all (Fastly's aggregate
// over the POPs); the same metrics as ExpectInspectors.
func ExpectInspectorsRT(m *traffic.Model, prefix string, svc int, start int64, res time.Duration) []schema.Point {
	m = m.For("fastly")
	return AppendInspectorPoints(nil, m, prefix, svc, schema.LocationAll, allPOPs, start, start+int64(res/time.Second))
}

// AppendInspectorPoints appends the inspector points of service svc over
// [from, to) at the POPs usePOP selects, written at location loc and time
// from. m must already be the model the stand-in serves (m.For("fastly")).
func AppendInspectorPoints(pts []schema.Point, m *traffic.Model, prefix string, svc int, loc string, usePOP func(int) bool, from, to int64) []schema.Point {
	name := m.Services[svc].Name
	put := func(feed, node, metric string, v float64) {
		pts = append(pts, schema.Point{Path: schema.Path(prefix, "fastly", name, loc, feed, node, metric), Value: v, Time: from})
	}
	for i, c := range sumOrigins(m, svc, usePOP, from, to) {
		if c.Responses == 0 {
			continue
		}
		o := Origins(name)[i]
		put("origins", o, "responses", float64(c.Responses))
		put("origins", o, "origin_bytes", float64(c.HeaderBytes+c.BodyBytes))
		for k, v := range c.Status {
			put("origins", o, fmt.Sprintf("status_%dxx", k+2), float64(v))
		}
		for k, v := range c.Latency {
			put("origins", o, latencyFields[k], float64(v))
		}
		if p, ok := Percentile(c.Latency, 50); ok {
			put("origins", o, "latency_p50_ms", p)
		}
		if p, ok := Percentile(c.Latency, 95); ok {
			put("origins", o, "latency_p95_ms", p)
		}
	}
	for i, c := range sumDomains(m, svc, usePOP, from, to) {
		if c.Requests == 0 {
			continue
		}
		d := Domains(name)[i]
		put("domains", d, "requests", float64(c.Requests))
		put("domains", d, "edge_bytes", float64(c.EdgeHeaderBytes+c.EdgeBodyBytes))
		put("domains", d, "hits", float64(c.Hits))
		put("domains", d, "misses", float64(c.Misses))
		if c.Hits+c.Misses > 0 {
			put("domains", d, "hit_ratio", float64(c.Hits)/float64(c.Hits+c.Misses))
		}
	}
	return pts
}

// Percentile is the pct-th percentile in ms of latency bucket counts, as
// cdnmetrics documents it (README, "Percentiles from buckets"): the
// response of rank pct/100 × total lies in the first bucket whose running
// count reaches it, and is placed linearly between that bucket's bounds;
// in the open-ended last bucket it is 60000. Not ok without responses.
func Percentile(counts [numLatency]int64, pct int) (float64, bool) {
	var total int64
	for _, c := range counts {
		total += c
	}
	if total == 0 {
		return 0, false
	}
	rank := float64(total) * float64(pct) / 100
	var below int64
	for i, c := range counts {
		if c == 0 || float64(below+c) < rank {
			below += c
			continue
		}
		if i == numLatency-1 {
			return latencyLower[i], true
		}
		width := latencyLower[i+1] - latencyLower[i]
		return latencyLower[i] + width*(rank-float64(below))/float64(c), true
	}
	return latencyLower[numLatency-1], true
}
