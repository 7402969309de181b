package fastlysim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
	"github.com/cdnmetrics/cdnmetrics/internal/simulate"
	"github.com/cdnmetrics/cdnmetrics/internal/traffic"
)

// The stand-in's behaviour: historical minutes appear simLag after they
// end; a real-time second is published simAggDelay seconds after it ends
// (Fastly's AggregateDelay); the service list has simPerPage services a
// page, so discovery pages even with the model's few services.
const (
	simLag      = 2 * time.Minute
	simAggDelay = 3
	simPerPage  = 2
	simRTMax    = 120 // seconds one real-time answer covers at most (Fastly keeps ~120 s)
	simLongPoll = time.Second
)

// Serve serves Fastly's service list, historical stats and real-time
// channel from the traffic model, in Fastly's response shapes.
func Serve(mux *http.ServeMux, sim simulate.Env) {
	// The provider\'s own character, when the model gives it one.
	sim.Model = sim.Model.For("fastly")
	m := sim.Model
	auth := func(rt bool, h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Fastly-Key") != sim.Secret("fastly") {
				if rt {
					writeJSON(w, http.StatusForbidden, map[string]any{"Error": "unauthorized"})
				} else {
					writeJSON(w, http.StatusUnauthorized, map[string]any{"msg": "Provided credentials are missing or invalid"})
				}
				return
			}
			h(w, r)
		}
	}
	mux.HandleFunc("GET /service", auth(false, func(w http.ResponseWriter, r *http.Request) {
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		page = max(page, 1)
		pages := (len(m.Services) + simPerPage - 1) / simPerPage
		out := []map[string]any{}
		for i := (page - 1) * simPerPage; i < min(page*simPerPage, len(m.Services)); i++ {
			s := m.Services[i]
			v := Version(sim.Now())
			out = append(out, map[string]any{"id": s.ID, "name": s.Name, "version": v, "type": "vcl", "paused": false,
				"deleted_at": nil, "versions": []any{map[string]any{"number": v, "active": true, "service_id": s.ID}}})
		}
		// Absolute links like Fastly's, including the simulator's mount
		// prefix (RequestURI still has it, URL.Path no longer does).
		prefix := strings.TrimSuffix(strings.SplitN(r.RequestURI, "?", 2)[0], r.URL.Path)
		link := func(p int, rel string) string {
			return fmt.Sprintf(`<http://%s%s/service?page=%d&per_page=%d>; rel="%s"`, r.Host, prefix, p, simPerPage, rel)
		}
		links := []string{link(pages, "last")}
		if page < pages {
			links = append(links, link(page+1, "next"))
		}
		w.Header().Set("Link", strings.Join(links, ", "))
		writeJSON(w, http.StatusOK, out)
	}))
	mux.HandleFunc("GET /stats/service/{id}", auth(false, func(w http.ResponseWriter, r *http.Request) {
		svc := m.ServiceIndex(r.PathValue("id"))
		if svc < 0 || m.Services[svc].ID != r.PathValue("id") {
			writeJSON(w, http.StatusNotFound, map[string]any{"msg": "Record not found", "detail": "Cannot find service"})
			return
		}
		q := r.URL.Query()
		from, err1 := strconv.ParseInt(q.Get("from"), 10, 64)
		to, err2 := strconv.ParseInt(q.Get("to"), 10, 64)
		if err1 != nil || err2 != nil || q.Get("by") != "minute" || to < from || to-from > 35*86400 {
			writeJSON(w, http.StatusBadRequest, map[string]any{"msg": "Bad request", "detail": "from, to (epoch seconds) and by=minute required"})
			return
		}
		region := q.Get("region")
		avail := sim.Now().Add(-simLag).Unix() // minutes ending by then are published
		rows := []map[string]any{}
		for st := from + (60-from%60)%60; st+60 <= min(to, avail); st += 60 {
			var s traffic.Sample
			if region == "" {
				s = m.SumAll(svc, st, st+60)
			} else {
				s = m.SumRegion(svc, region, st, st+60)
			}
			row := simFields(s, false)
			row[keyStartTime] = st
			row[keyServiceID] = m.Services[svc].ID
			row[keyHitRatio] = nil // Fastly's null when nothing was cacheable
			if s.Hits+s.Misses > 0 {
				row[keyHitRatio] = float64(s.Hits) / float64(s.Hits+s.Misses)
			}
			rows = append(rows, row)
		}
		meta := map[string]any{"from": simTime(from), "to": simTime(to), "by": "minute", "region": regionOrAll(region)}
		writeJSON(w, http.StatusOK, map[string]any{"data": rows, "status": "success", "msg": nil, "meta": meta})
	}))
	mux.HandleFunc("GET /v1/channel/{id}/ts/{ts}", auth(true, rtHandler(sim, m, func(svc int, t int64) map[string]any {
		dc := map[string]any{}
		var agg traffic.Sample
		for p := range m.POPs {
			s := m.At(svc, p, t)
			if s.Requests == 0 && s.OriginFetches == 0 {
				continue
			}
			agg.Add(s)
			dc[m.POPs[p].Code] = simFields(s, true)
		}
		if len(dc) == 0 {
			return nil // Fastly sends only seconds that had traffic
		}
		return map[string]any{"datacenter": dc, "aggregated": simFields(agg, true), "recorded": t}
	})))
	serveInspectors(mux, sim, m, auth) // inspect.go
}

// rtHandler serves a real-time feed (the channel, the inspectors):
// GET …/{id}/ts/{ts}, long-polled, each published second as record(svc, t)
// builds it (nil: a second without traffic, which Fastly leaves out).
func rtHandler(sim simulate.Env, m *traffic.Model, record func(svc int, t int64) map[string]any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		svc := m.ServiceIndex(r.PathValue("id"))
		ts, err := strconv.ParseInt(r.PathValue("ts"), 10, 64)
		if svc < 0 || m.Services[svc].ID != r.PathValue("id") || err != nil || ts < 0 {
			writeJSON(w, http.StatusNotFound, map[string]any{"Error": "not found"})
			return
		}
		// Second t is published at t+1+delay. ts is the previous answer's
		// Timestamp (Fastly's "now" then): everything published after it
		// is new. ts 0 asks for the newest second only.
		span := func(now int64) (lo, hi int64) {
			hi = now - simAggDelay - 1
			lo = ts - simAggDelay
			if ts == 0 {
				lo = hi
			}
			return max(lo, hi-simRTMax+1), hi
		}
		now := sim.Now().Unix()
		lo, hi := span(now)
		// Long poll: hold the request until a second is published, at most
		// simLongPoll of real time.
		deadline := time.Now().Add(simLongPoll)
		for lo > hi && time.Now().Before(deadline) {
			select {
			case <-r.Context().Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
			now = sim.Now().Unix()
			lo, hi = span(now)
		}
		if lo > hi {
			writeJSON(w, http.StatusOK, map[string]any{"Data": []any{}, "Timestamp": ts, "AggregateDelay": simAggDelay, "Error": "No data available, please retry"})
			return
		}
		data := []map[string]any{}
		for t := lo; t <= hi; t++ {
			if rec := record(svc, t); rec != nil {
				data = append(data, rec)
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"Data": data, "Timestamp": now, "AggregateDelay": simAggDelay})
	}
}

// Version is the active version of every service at now; it changes every hour, so version-change events have a cause.
func Version(now time.Time) int { return int(now.Unix()/3600%1000) + 1 }

func simTime(t int64) string { return time.Unix(t, 0).UTC().Format("2006-01-02 15:04:05 UTC") }

func regionOrAll(region string) string {
	if region == "" {
		return "all"
	}
	return region
}

// Row keys of the historical stats API besides the measurements.
const (
	keyStartTime = "start_time"
	keyHitRatio  = "hit_ratio"
	keyServiceID = "service_id"
)

// NoiseFields are fields the stand-in adds to every entry although
// cdnmetrics ignores them, so the decoder's skipping is exercised with the
// real shapes: a float, an object and an integer alias.
var NoiseFields = struct{ Float, Object, Alias string }{"hits_time", "miss_histogram", "body_size"}

// measurements lists a model sample under the names of Fastly's API
// reference (real-time and historical use the same ones). Edge bytes are
// edge_resp_* ("delivered from Fastly to the end user"), origin bytes are
// origin_fetch_resp_* (received from origin).
func measurements(s traffic.Sample) map[string]int64 {
	return map[string]int64{
		"requests": s.Requests, "hits": s.Hits, "miss": s.Misses, "pass": s.Passes, "errors": s.Errors,
		"edge_resp_header_bytes": s.EdgeHeaderBytes, "edge_resp_body_bytes": s.EdgeBodyBytes,
		"origin_fetches":                 s.OriginFetches,
		"origin_fetch_resp_header_bytes": s.OriginHeaderBytes, "origin_fetch_resp_body_bytes": s.OriginBodyBytes,
		"status_2xx": s.Status2xx, "status_3xx": s.Status3xx, "status_4xx": s.Status4xx, "status_5xx": s.Status5xx,
	}
}

// simFields lists a model sample under Fastly's field names, plus a few
// fields cdnmetrics ignores. omitZero mimics the real-time API, which
// leaves zero-valued fields out.
func simFields(s traffic.Sample, omitZero bool) map[string]any {
	f := map[string]any{}
	for name, v := range measurements(s) {
		if v != 0 || !omitZero {
			f[name] = v
		}
	}
	f[NoiseFields.Object] = map[string]any{}
	if s.Requests > 0 || !omitZero {
		f[NoiseFields.Float] = float64(s.Hits) * 0.00012
		f[NoiseFields.Alias] = s.EdgeBodyBytes
	}
	return f
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "max-age=1")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Config points the collector at the stand-in, with every model service
// listed and the model's regions.
func Config(baseURL, dir string) (string, error) {
	m := traffic.Default(1)
	var b strings.Builder
	fmt.Fprintf(&b, "[fastly]\napi_url = %q\nrt_url = %q\ntoken_env = %q\nresolution = \"10s\"\ndelay = %q\n",
		baseURL, baseURL, collectors.SimSecretEnv, (simLag + time.Minute).String())
	fmt.Fprintf(&b, "regions = [%s]\n", quoteAll(m.Regions()))
	// The simulated account has Origin and Domain Inspector (inspect.go).
	b.WriteString("origin_inspector = true\ndomain_inspector = true\n")
	for _, s := range m.Services {
		fmt.Fprintf(&b, "[[fastly.service]]\nid = %q\nname = %q\n", s.ID, s.Name)
	}
	return b.String(), nil
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

// Expect is what Collect over w emits against the stand-in configured by
// Config (w published): per service and minute, Fastly's all-regions
// total and each region of the model. It is computed from the model's sums
// (see Counts), not with the collector's mapping: a historical row carries
// every field, so every unified field is known.
func Expect(m *traffic.Model, w collectors.Window) []schema.Record {
	m = m.For("fastly") // what Serve serves
	var recs []schema.Record
	from := w.Start.Unix() + (60-w.Start.Unix()%60)%60
	for svc, s := range m.Services {
		for st := from; st+60 <= w.End.Unix(); st += 60 {
			recs = append(recs, schema.Record{Provider: "fastly", Service: s.Name, Location: schema.LocationAll, Start: st, Step: 60,
				Counts: Counts(m.SumAll(svc, st, st+60))})
			for _, region := range m.Regions() {
				recs = append(recs, schema.Record{Provider: "fastly", Service: s.Name, Location: region, Start: st, Step: 60,
					Counts: Counts(m.SumRegion(svc, region, st, st+60))})
			}
		}
	}
	return recs
}

// Counts is what a model sample means in the unified schema, by Fastly's
// field definitions: requests, hits, miss, pass and errors as they are;
// edge bytes are the bytes delivered to end users (headers + bodies);
// origin requests the fetches, origin bytes what came back from origin
// (headers + bodies); the status classes as they are.
func Counts(s traffic.Sample) schema.Counts {
	var c schema.Counts
	c.Set(schema.Requests, float64(s.Requests))
	c.Set(schema.Hits, float64(s.Hits))
	c.Set(schema.Misses, float64(s.Misses))
	c.Set(schema.Passes, float64(s.Passes))
	c.Set(schema.Errors, float64(s.Errors))
	c.Set(schema.EdgeBytes, float64(s.EdgeBytes()))
	c.Set(schema.OriginRequests, float64(s.OriginFetches))
	c.Set(schema.OriginBytes, float64(s.OriginBytes()))
	c.Set(schema.Status2xx, float64(s.Status2xx))
	c.Set(schema.Status3xx, float64(s.Status3xx))
	c.Set(schema.Status4xx, float64(s.Status4xx))
	c.Set(schema.Status5xx, float64(s.Status5xx))
	return c
}

// ExpectRT is what the real-time stream emits for service svc against the
// stand-in: one record per POP that served anything and one for "all",
// for every whole bucket of length res inside [start, end) (buckets are
// aligned to the epoch). It is computed from the model's sums and maps
// the sample's counts to schema fields itself, so a test comparing it
// with Graphite checks the aggregator and the real-time mapping instead
// of repeating them. Every field is known: the real-time API documents an
// absent field as 0.
func ExpectRT(m *traffic.Model, svc int, start, end time.Time, res time.Duration) []schema.Record {
	m = m.For("fastly") // what Serve serves
	r := int64(res / time.Second)
	if r <= 0 {
		return nil
	}
	// The stand-in sends a second only for POPs with traffic (a model
	// second without requests is all zeros), and a second only when some
	// POP had traffic: a bucket without any has no record at all.
	name := m.Services[svc].Name
	var recs []schema.Record
	first := start.Unix() + (r-start.Unix()%r)%r
	for b := first; b+r <= end.Unix(); b += r {
		if all := m.SumAll(svc, b, b+r); all.Requests > 0 {
			recs = append(recs, schema.Record{Provider: "fastly", Service: name, Location: schema.LocationAll, Start: b, Step: r, Counts: Counts(all)})
		}
		for p, pop := range m.POPs {
			if s := m.Sum(svc, p, b, b+r); s.Requests > 0 {
				recs = append(recs, schema.Record{Provider: "fastly", Service: name, Location: pop.Code, Start: b, Step: r, Counts: Counts(s)})
			}
		}
	}
	return recs
}
