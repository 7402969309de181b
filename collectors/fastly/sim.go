package fastly

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
	"github.com/cdnmetrics/cdnmetrics/internal/traffic"
)

// The stand-in's lags: historical minutes appear simLag after they end;
// real-time seconds simAggDelay seconds after they happen.
const (
	simLag      = 2 * time.Minute
	simAggDelay = 2
	simPerPage  = 2
)

// simulate serves Fastly's service list, historical stats and real-time
// channel from the traffic model, in Fastly's response shapes.
func simulate(mux *http.ServeMux, sim collectors.SimEnv) {
	m := sim.Model
	auth := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Fastly-Key") != sim.Secret("fastly") {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprint(w, `{"msg":"Provided credentials are missing or invalid"}`)
				return
			}
			h(w, r)
		}
	}
	mux.HandleFunc("GET /service", auth(func(w http.ResponseWriter, r *http.Request) {
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		page = max(page, 1)
		pages := (len(m.Services) + simPerPage - 1) / simPerPage
		var out []map[string]any
		for i := (page - 1) * simPerPage; i < min(page*simPerPage, len(m.Services)); i++ {
			s := m.Services[i]
			out = append(out, map[string]any{"id": s.ID, "name": s.Name, "version": simVersion(sim.Now()), "type": "vcl", "paused": false, "deleted_at": nil, "versions": []any{}})
		}
		if page < pages {
			// Absolute URL like Fastly's, including the simulator's mount prefix.
			prefix := strings.TrimSuffix(strings.SplitN(r.RequestURI, "?", 2)[0], r.URL.Path)
			w.Header().Set("Link", fmt.Sprintf(`<http://%s%s/service?page=%d&per_page=%d>; rel="next"`, r.Host, prefix, page+1, simPerPage))
		}
		writeJSON(w, out)
	}))
	mux.HandleFunc("GET /stats/service/{id}", auth(func(w http.ResponseWriter, r *http.Request) {
		svc := m.ServiceIndex(r.PathValue("id"))
		if svc < 0 {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"msg":"Record not found","detail":"Cannot find service"}`)
			return
		}
		q := r.URL.Query()
		from, err1 := strconv.ParseInt(q.Get("from"), 10, 64)
		to, err2 := strconv.ParseInt(q.Get("to"), 10, 64)
		if err1 != nil || err2 != nil || q.Get("by") != "minute" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"msg":"bad request","detail":"from, to (epoch) and by=minute required"}`)
			return
		}
		region := q.Get("region")
		avail := sim.Now().Add(-simLag).Unix()
		rows := []map[string]any{}
		for st := from - from%60; st+60 <= min(to, avail); st += 60 {
			if st < from {
				continue
			}
			var s traffic.Sample
			if region == "" {
				s = m.SumAll(svc, st, st+60)
			} else {
				s = m.SumRegion(svc, region, st, st+60)
			}
			row := fields(s, false)
			row["start_time"] = st
			row["service_id"] = m.Services[svc].ID
			rows = append(rows, row)
		}
		writeJSON(w, map[string]any{"data": rows, "status": "success", "msg": nil,
			"meta": map[string]any{"from": time.Unix(from, 0).UTC().Format("2006-01-02 15:04:05 UTC"), "to": time.Unix(to, 0).UTC().Format("2006-01-02 15:04:05 UTC"), "by": "minute", "region": nameOr(region, "all")}})
	}))
	mux.HandleFunc("GET /v1/channel/{id}/ts/{ts}", auth(func(w http.ResponseWriter, r *http.Request) {
		svc := m.ServiceIndex(r.PathValue("id"))
		ts, err := strconv.ParseInt(r.PathValue("ts"), 10, 64)
		if svc < 0 || err != nil {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"Error":"not found"}`)
			return
		}
		avail := sim.Now().Unix() - simAggDelay // seconds before this are final
		if ts == 0 {
			ts = avail - 1
		}
		if ts >= avail {
			// Long poll, bounded: wait a moment for the next second.
			select {
			case <-r.Context().Done():
				return
			case <-time.After(time.Duration(min(ts-avail+1, 1)) * time.Second):
			}
			avail = sim.Now().Unix() - simAggDelay
		}
		if ts >= avail {
			writeJSON(w, map[string]any{"Data": []any{}, "Timestamp": ts, "AggregateDelay": simAggDelay, "Error": "No data available, please retry"})
			return
		}
		end := min(avail, ts+10)
		var data []map[string]any
		for t := ts; t < end; t++ {
			dc := map[string]any{}
			var agg traffic.Sample
			for p := range m.POPs {
				s := m.At(svc, p, t)
				if s.Requests == 0 {
					continue
				}
				agg.Add(s)
				dc[m.POPs[p].Code] = fields(s, true)
			}
			if len(dc) == 0 {
				continue // Fastly sends only seconds that had traffic
			}
			data = append(data, map[string]any{"datacenter": dc, "aggregated": fields(agg, true), "recorded": t})
		}
		writeJSON(w, map[string]any{"Data": data, "Timestamp": end, "AggregateDelay": simAggDelay})
	}))
}

// simVersion changes every hour so the version-change event has a cause.
func simVersion(now time.Time) int { return int(now.Unix()/3600%1000) + 1 }

// fields maps a model sample to Fastly field names; omitZero mimics the
// real-time API, which leaves zero-valued fields out.
func fields(s traffic.Sample, omitZero bool) map[string]any {
	f := map[string]any{
		"requests": s.Requests, "hits": s.Hits, "miss": s.Misses, "pass": s.Passes, "errors": s.Errors,
		"edge_requests": s.Requests, "edge_resp_header_bytes": s.EdgeHeaderBytes, "edge_resp_body_bytes": s.EdgeBodyBytes,
		"resp_header_bytes": s.EdgeHeaderBytes, "resp_body_bytes": s.EdgeBodyBytes,
		"origin_fetches": s.OriginFetches, "origin_fetch_resp_header_bytes": s.OriginHeaderBytes, "origin_fetch_resp_body_bytes": s.OriginBodyBytes,
		"status_2xx": s.Status2xx, "status_3xx": s.Status3xx, "status_4xx": s.Status4xx, "status_5xx": s.Status5xx,
		"miss_histogram": map[string]any{},
	}
	if omitZero {
		for k, v := range f {
			if n, ok := v.(int64); ok && n == 0 {
				delete(f, k)
			}
		}
	}
	return f
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// simConfig points the collector at the stand-in, with every model service
// listed and the model's regions.
func simConfig(baseURL, dir string) (string, error) {
	m := traffic.Default(1)
	var b strings.Builder
	fmt.Fprintf(&b, "[fastly]\napi_url = %q\nrt_url = %q\ntoken_env = %q\nresolution = \"10s\"\ndelay = \"3m\"\n", baseURL, baseURL, collectors.SimSecretEnv)
	fmt.Fprintf(&b, "regions = [%s]\n", quoteAll(m.Regions()))
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

// expect is what Collect over w emits against the stand-in: per service and
// minute the all-regions total and each region of the model.
func expect(m *traffic.Model, w collectors.Window) []schema.Record {
	var recs []schema.Record
	for svc, s := range m.Services {
		for st := w.Start.Unix(); st+60 <= w.End.Unix(); st += 60 {
			recs = append(recs, record(s.Name, schema.LocationAll, st, m.SumAll(svc, st, st+60)))
			for _, region := range m.Regions() {
				recs = append(recs, record(s.Name, region, st, m.SumRegion(svc, region, st, st+60)))
			}
		}
	}
	return recs
}

func record(svc, loc string, start int64, s traffic.Sample) schema.Record {
	r := schema.Record{Provider: "fastly", Service: svc, Location: loc, Start: start, Step: 60}
	st := stats{
		Requests: float64(s.Requests), Hits: float64(s.Hits), Miss: float64(s.Misses), Pass: float64(s.Passes), Errors: float64(s.Errors),
		EdgeRespHeaderBytes: float64(s.EdgeHeaderBytes), EdgeRespBodyBytes: float64(s.EdgeBodyBytes),
		OriginFetches: float64(s.OriginFetches), OriginFetchRespHeaderBytes: float64(s.OriginHeaderBytes), OriginFetchRespBodyBytes: float64(s.OriginBodyBytes),
		Status2xx: float64(s.Status2xx), Status3xx: float64(s.Status3xx), Status4xx: float64(s.Status4xx), Status5xx: float64(s.Status5xx),
	}
	st.add(&r.Counts)
	return r
}
