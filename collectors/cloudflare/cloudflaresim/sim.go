package cloudflaresim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
	"github.com/cdnmetrics/cdnmetrics/internal/simulate"
	"github.com/cdnmetrics/cdnmetrics/internal/traffic"
)

// Cloudflare's API as the stand-in serves it: the GraphQL Analytics
// endpoint and its two datasets (read per minute), the zone list and its
// row limit.
const (
	provider    = "cloudflare"
	step        = 60
	graphqlPath = "/client/v4/graphql"
	zonesPath   = "/client/v4/zones"
	nodeTotal   = "httpRequests1mGroups"
	nodeColo    = "httpRequestsAdaptiveGroups"
	maxRows     = 10000
)

// AccountID is the account the stand-in lists every model service under.
const AccountID = "0c8e5a1b2d3f4a5b6c7d8e9f0a1b2c3d"

// Lag is how far behind the stand-in's clock its data ends.
const Lag = 2 * time.Minute

// Serve registers the Cloudflare API stand-in: the GraphQL endpoint
// serving both datasets from the model, and the zone list.
func Serve(mux *http.ServeMux, sim simulate.Env) {
	// The provider\'s own character, when the model gives it one.
	sim.Model = sim.Model.For(provider)
	s := &stand{sim: sim}
	mux.HandleFunc("POST "+graphqlPath, s.graphql)
	mux.HandleFunc("GET "+zonesPath, s.zoneList)
}

// Config returns the [cloudflare] section pointing at the stand-in.
func Config(baseURL, _ string) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "[cloudflare]\napi_url = %q\ntoken_env = %q\nschedule = \"@every 1m\"\n", baseURL, collectors.SimSecretEnv)
	for _, s := range traffic.Default(0).Services {
		fmt.Fprintf(&b, "\n[[cloudflare.zone]]\nid = %q\nname = %q\n", s.ID, s.Name)
	}
	return b.String(), nil
}

// Expect returns the records Collect emits over w from the stand-in as
// Config configures it, computed from the model: per zone and minute the
// "all" record of httpRequests1mGroups and one record per POP with traffic.
func Expect(m *traffic.Model, w collectors.Window) []schema.Record {
	m = m.For(provider) // what Serve serves
	var out []schema.Record
	for si, svc := range m.Services {
		for t := ceilMinute(w.Start); t < w.End.Unix(); t += step {
			var req, hits, eb, cb int64
			var st [4]int64
			for p := range m.POPs {
				s := m.Sum(si, p, t, t+step)
				if s.Requests == 0 {
					continue
				}
				c := simCachedBytes(s)
				req += s.Requests
				hits += s.Hits
				eb += s.EdgeBytes()
				cb += c
				st[0] += s.Status2xx
				st[1] += s.Status3xx
				st[2] += s.Status4xx
				st[3] += s.Status5xx
				r := schema.Record{Provider: provider, Service: svc.Name, Location: m.POPs[p].Code, Start: t, Step: step}
				r.Set(schema.Requests, float64(s.Requests))
				r.Set(schema.Hits, float64(s.Hits))
				r.Set(schema.Misses, float64(s.Misses+s.Passes))
				r.Set(schema.EdgeBytes, float64(s.EdgeBytes()))
				r.Set(schema.OriginBytes, float64(s.EdgeBytes()-c))
				setStatus(&r, [4]int64{s.Status2xx, s.Status3xx, s.Status4xx, s.Status5xx})
				out = append(out, r)
			}
			if req == 0 {
				continue
			}
			tot := schema.Record{Provider: provider, Service: svc.Name, Location: schema.LocationAll, Start: t, Step: step}
			tot.Set(schema.Requests, float64(req))
			tot.Set(schema.Hits, float64(hits))
			tot.Set(schema.Misses, float64(req-hits))
			tot.Set(schema.EdgeBytes, float64(eb))
			tot.Set(schema.OriginBytes, float64(eb-cb))
			setStatus(&tot, st)
			out = append(out, tot)
		}
	}
	return out
}

func setStatus(r *schema.Record, st [4]int64) {
	for i, f := range []schema.Field{schema.Status2xx, schema.Status3xx, schema.Status4xx, schema.Status5xx} {
		r.Set(f, float64(st[i]))
	}
}

func ceilMinute(t time.Time) int64 {
	u := t.Unix()
	if r := u % step; r != 0 {
		u += step - r
	}
	if t.Nanosecond() != 0 && u == t.Unix() {
		u += step
	}
	return u
}

// simCachedBytes is the model's bytes served from cache: every byte sent
// beyond what was fetched from origin, or nothing when nothing was a hit.
func simCachedBytes(s traffic.Sample) int64 {
	if s.Hits == 0 {
		return 0
	}
	return s.EdgeBytes() - s.OriginBytes()
}

type stand struct {
	sim simulate.Env
}

func (s *stand) secret() string {
	if s.sim.Secret != nil {
		return s.sim.Secret(provider)
	}
	return collectors.SimSecret
}

func (s *stand) now() time.Time {
	if s.sim.Now != nil {
		return s.sim.Now()
	}
	return time.Now()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func gqlErr(msg string, path ...any) map[string]any {
	return map[string]any{"data": nil, "errors": []map[string]any{{
		"message": msg, "path": path,
		"extensions": map[string]any{"timestamp": time.Now().UTC().Format(time.RFC3339Nano)},
	}}}
}

var limitRE = regexp.MustCompile(`(httpRequests1mGroups|httpRequestsAdaptiveGroups)\(limit: (\d+)`)

func (s *stand) graphql(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+s.secret() {
		writeJSON(w, http.StatusForbidden, gqlErr("not authorized: the token is missing, invalid or lacks Analytics:Read"))
		return
	}
	var req struct {
		Query     string            `json:"query"`
		Variables map[string]string `json:"variables"`
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, gqlErr("failed to parse request body: "+err.Error()))
		return
	}
	start, err1 := time.Parse(time.RFC3339, req.Variables["start"])
	end, err2 := time.Parse(time.RFC3339, req.Variables["end"])
	if err1 != nil || err2 != nil || !start.Before(end) {
		writeJSON(w, http.StatusOK, gqlErr("bad start/end variables", "viewer", "zones", "0"))
		return
	}
	m := s.sim.Model
	svc := -1
	for i, sv := range m.Services {
		if sv.ID == req.Variables["zoneTag"] {
			svc = i
		}
	}
	if svc < 0 {
		writeJSON(w, http.StatusOK, gqlErr(fmt.Sprintf("zone %q does not exist or the token may not read it", req.Variables["zoneTag"]), "viewer", "zones", "0"))
		return
	}
	limits := map[string]int{}
	for _, mm := range limitRE.FindAllStringSubmatch(req.Query, -1) {
		n, _ := strconv.Atoi(mm[2])
		limits[mm[1]] = min(n, maxRows)
	}
	// Only whole minutes published before now - lag are served.
	last := s.now().Add(-Lag).Unix()
	zone := map[string]any{}
	var totals, colos []map[string]any
	for t := ceilMinute(start); t < end.Unix() && t+step <= last; t += step {
		tr, cr := Minute(m, svc, t)
		if tr != nil {
			totals = append(totals, tr)
		}
		colos = append(colos, cr...)
	}
	if n, ok := limits[nodeTotal]; ok {
		zone[nodeTotal] = truncate(totals, n)
	}
	if n, ok := limits[nodeColo]; ok {
		zone[nodeColo] = truncate(colos, n)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"data":   map[string]any{"viewer": map[string]any{"zones": []any{zone}}},
		"errors": nil,
	})
}

func truncate(rows []map[string]any, n int) []map[string]any {
	if rows == nil {
		rows = []map[string]any{}
	}
	if len(rows) > n {
		rows = rows[:n]
	}
	return rows
}

// Minute builds the rows of one minute: the httpRequests1mGroups row
// (nil without traffic) and the adaptive rows per POP, cache status and
// response status.
func Minute(m *traffic.Model, svc int, t int64) (map[string]any, []map[string]any) {
	ts := time.Unix(t, 0).UTC().Format(time.RFC3339)
	var tot traffic.Sample
	var cached int64
	var colos []map[string]any
	for p, pop := range m.POPs {
		s := m.Sum(svc, p, t, t+step)
		if s.Requests == 0 {
			continue
		}
		tot.Add(s)
		cb := simCachedBytes(s)
		cached += cb
		colos = append(colos, simColoRows(ts, pop.Code, s, cb)...)
	}
	if tot.Requests == 0 {
		return nil, colos
	}
	statusMap := []map[string]any{}
	for _, e := range []struct {
		code int
		n    int64
	}{{200, tot.Status2xx}, {304, tot.Status3xx}, {404, tot.Status4xx}, {503, tot.Status5xx}} {
		if e.n > 0 {
			statusMap = append(statusMap, map[string]any{"edgeResponseStatus": e.code, "requests": e.n})
		}
	}
	row := map[string]any{
		"dimensions": map[string]any{"datetimeMinute": ts},
		"sum": map[string]any{
			"requests": tot.Requests, "cachedRequests": tot.Hits,
			"bytes": tot.EdgeBytes(), "cachedBytes": cached,
			"responseStatusMap": statusMap,
		},
	}
	return row, colos
}

// simColoRows splits one POP-minute over cache status × response status
// (north-west corner fill of the two marginals), with the cached bytes over
// the hit rows and the rest over the others, each split by request count.
func simColoRows(ts, colo string, s traffic.Sample, cachedBytes int64) []map[string]any {
	type cell struct {
		cache string
		code  int
		n     int64
	}
	caches := []struct {
		name string
		n    int64
	}{{"hit", s.Hits}, {"miss", s.Misses}, {"dynamic", s.Passes}}
	codes := []struct {
		code int
		n    int64
	}{{200, s.Status2xx}, {304, s.Status3xx}, {404, s.Status4xx}, {503, s.Status5xx}}
	var cells []cell
	i, j := 0, 0
	for i < len(caches) && j < len(codes) {
		n := min(caches[i].n, codes[j].n)
		if n > 0 {
			cells = append(cells, cell{caches[i].name, codes[j].code, n})
		}
		caches[i].n -= n
		codes[j].n -= n
		if caches[i].n == 0 {
			i++
		}
		if j < len(codes) && codes[j].n == 0 {
			j++
		}
	}
	split := func(hit bool, total, count int64) []int64 {
		var idx []int
		for k, c := range cells {
			if (c.cache == "hit") == hit {
				idx = append(idx, k)
			}
		}
		out := make([]int64, len(cells))
		left := total
		for n, k := range idx {
			if n == len(idx)-1 {
				out[k] = left
				break
			}
			out[k] = total * cells[k].n / count
			left -= out[k]
		}
		return out
	}
	hitB := split(true, cachedBytes, s.Hits)
	missB := split(false, s.EdgeBytes()-cachedBytes, s.Misses+s.Passes)
	rows := make([]map[string]any, 0, len(cells))
	for k, c := range cells {
		rows = append(rows, map[string]any{
			"avg":   map[string]any{"sampleInterval": 1},
			"count": c.n,
			"dimensions": map[string]any{
				"cacheStatus": c.cache, "coloCode": colo, "datetimeMinute": ts, "edgeResponseStatus": c.code,
			},
			"sum": map[string]any{"edgeResponseBytes": hitB[k] + missB[k]},
		})
	}
	return rows
}

func (s *stand) zoneList(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+s.secret() {
		writeJSON(w, http.StatusForbidden, map[string]any{
			"success": false, "result": nil, "messages": []any{},
			"errors": []map[string]any{{"code": 10000, "message": "Authentication error"}},
		})
		return
	}
	q := r.URL.Query()
	page, _ := strconv.Atoi(q.Get("page"))
	page = max(page, 1)
	per, _ := strconv.Atoi(q.Get("per_page"))
	if per <= 0 {
		per = 20
	}
	per = min(per, 50)
	var zones []map[string]any
	if q.Get("account.id") == AccountID {
		for _, sv := range s.sim.Model.Services {
			zones = append(zones, map[string]any{"id": sv.ID, "name": sv.Name, "status": "active"})
		}
	}
	total := len(zones)
	pages := (total + per - 1) / per
	from := min((page-1)*per, total)
	to := min(from+per, total)
	result := zones[from:to]
	if result == nil {
		result = []map[string]any{}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"success": true, "errors": []any{}, "messages": []any{},
		"result":      result,
		"result_info": map[string]any{"page": page, "per_page": per, "total_pages": pages, "count": len(result), "total_count": total},
	})
}
