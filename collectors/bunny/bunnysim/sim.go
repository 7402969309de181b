package bunnysim

import (
	"encoding/json"
	"errors"
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

const (
	provider = "bunny"
	hour     = 3600
	// FirstPullZoneID is the id of the model's first service as a pull
	// zone; the others follow in model order.
	FirstPullZoneID = 65109
	// keyLayout is how Bunny writes its charts' keys.
	keyLayout = "2006-01-02T15:04:05Z"
	// balanceLayout is the zone-less form Bunny uses for the balance
	// chart's keys (as in the recorded answer).
	balanceLayout = "2006-01-02T15:04:05"
)

// PullZoneID returns the pull zone id the stand-in gives model service i.
func PullZoneID(i int) int64 { return FirstPullZoneID + int64(i) }

// popNames are the GeoTrafficDistribution keys of the model's POPs, in
// Bunny's "Region: City, Country" form.
var popNames = map[string]string{
	"LHR": "EU: London, UK", "FRA": "EU: Frankfurt, DE", "IAD": "NA: Ashburn, VA",
	"SJC": "NA: San Jose, CA", "NRT": "ASIA: Tokyo, JP", "SYD": "OC: Sydney, AU",
}

// Serve registers the stand-in on mux.
func Serve(mux *http.ServeMux, sim simulate.Env) {
	sim.Model = sim.Model.For(provider)
	s := &stand{sim: sim}
	mux.HandleFunc("GET /pullzone", s.pullZones)
	mux.HandleFunc("GET /statistics", s.statistics)
}

// Config returns the [bunny] section pointing at the stand-in. It lists no
// pull zone, so the collector discovers them through GET /pullzone; the
// API key comes from collectors.SimSecretEnv.
func Config(baseURL, _ string) (string, error) {
	return fmt.Sprintf("[bunny]\napi_url = %q\ntoken_env = %q\nschedule = \"@every 15m\"\n", baseURL, collectors.SimSecretEnv), nil
}

// Expect returns the records Collect emits over w from the stand-in as
// Config configures it: every hour starting in w (all of them ended; Expect
// is for past windows), per service, with Bunny's documented meanings —
// RequestsServedChart the requests served, PullRequestsPulledChart the
// requests pulled from the origin, BandwidthUsedChart the bytes sent to
// clients, OriginTrafficChart the bytes fetched from the origin,
// Error3xx/4xx/5xxChart the responses of each class. Hours without traffic
// are known zeros: Bunny lists every hour of the range.
func Expect(m *traffic.Model, w collectors.Window) []schema.Record {
	m = m.For(provider)
	var out []schema.Record
	first := w.Start.Unix()
	if r := first % hour; r != 0 {
		first += hour - r
	}
	for si, svc := range m.Services {
		for t := first; t < w.End.Unix(); t += hour {
			s := m.SumAll(si, t, t+hour)
			r := schema.Record{Provider: provider, Service: svc.Name, Location: schema.LocationAll, Start: t, Step: hour}
			r.Set(schema.Requests, float64(s.Requests))
			r.Set(schema.OriginRequests, float64(s.OriginFetches))
			r.Set(schema.EdgeBytes, float64(s.EdgeBytes()))
			r.Set(schema.OriginBytes, float64(s.OriginBytes()))
			r.Set(schema.Status3xx, float64(s.Status3xx))
			r.Set(schema.Status4xx, float64(s.Status4xx))
			r.Set(schema.Status5xx, float64(s.Status5xx))
			out = append(out, r)
		}
	}
	return out
}

type stand struct {
	sim simulate.Env
}

func (s *stand) now() time.Time {
	if s.sim.Now != nil {
		return s.sim.Now()
	}
	return time.Now()
}

// authorized checks the AccessKey header as Bunny does (401 otherwise).
func (s *stand) authorized(w http.ResponseWriter, r *http.Request) bool {
	secret := collectors.SimSecret
	if s.sim.Secret != nil {
		secret = s.sim.Secret(provider)
	}
	if r.Header.Get("AccessKey") != secret {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"Message": "Authorization has been denied for this request."})
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func badRequest(w http.ResponseWriter, msg string) {
	writeJSON(w, http.StatusBadRequest, map[string]string{"ErrorKey": "validation", "Field": "", "Message": msg})
}

// pullZones answers GET /pullzone as a page of one pull zone per model
// service (with a few of the many other fields a pull zone has).
func (s *stand) pullZones(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(w, r) {
		return
	}
	page, per := 1, 1000
	if v := r.URL.Query().Get("page"); v != "" {
		page, _ = strconv.Atoi(v)
	}
	if v := r.URL.Query().Get("perPage"); v != "" {
		per, _ = strconv.Atoi(v)
	}
	if page < 1 || per < 1 {
		badRequest(w, "page and perPage must be positive")
		return
	}
	items := []map[string]any{}
	n := len(s.sim.Model.Services)
	for i := (page - 1) * per; i < n && i < page*per; i++ {
		sv := s.sim.Model.Services[i]
		items = append(items, map[string]any{
			"Id": PullZoneID(i), "Name": sv.Name, "OriginUrl": "https://origin.example/" + sv.Name,
			"Enabled": true, "Suspended": false, "Type": 0, "ZoneSecurityKey": "not-a-real-key-" + sv.ID,
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"Items": items, "CurrentPage": page, "TotalItems": n, "HasMoreItems": page*per < n,
	})
}

// ParseDate reads a dateFrom/dateTo value: RFC 3339, or a date and time
// without a zone (UTC), or a bare date.
func ParseDate(v string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02"} {
		loc := time.UTC
		if t, err := time.ParseInLocation(layout, v, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date", v)
}

// statistics answers GET /statistics with hourly charts for one pull zone
// (pullZone) or the whole account (no pullZone, or -1). Hours run from
// dateFrom's hour to dateTo inclusive and stop at the current hour, which
// holds what the model served so far.
func (s *stand) statistics(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(w, r) {
		return
	}
	q := r.URL.Query()
	if q.Get("hourly") != "true" {
		badRequest(w, "this stand-in serves hourly statistics only (hourly=true)")
		return
	}
	from, err := ParseDate(q.Get("dateFrom"))
	if err != nil {
		badRequest(w, "dateFrom: "+err.Error())
		return
	}
	to, err := ParseDate(q.Get("dateTo"))
	if err != nil {
		badRequest(w, "dateTo: "+err.Error())
		return
	}
	now := s.now()
	if from.Before(now.Add(-30 * 24 * time.Hour)) {
		badRequest(w, "Cannot request hourly statistics older than 30 days. Use daily granularity instead.")
		return
	}
	svcs, err := s.services(q.Get("pullZone"))
	if err != nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"ErrorKey": "pullzone.not_found", "Message": err.Error()})
		return
	}
	if to.After(now) {
		to = now
	}
	var total traffic.Sample
	charts := map[string]map[string]float64{}
	chart := func(name string) map[string]float64 {
		if charts[name] == nil {
			charts[name] = map[string]float64{}
		}
		return charts[name]
	}
	geo := map[string]float64{}
	nowU := now.Unix()
	for t := from.Unix() - from.Unix()%hour; t <= to.Unix(); t += hour {
		end := min(t+hour, nowU)
		var sm traffic.Sample
		for _, si := range svcs {
			for p, pop := range s.sim.Model.POPs {
				ps := s.sim.Model.Sum(si, p, t, end)
				sm.Add(ps)
				geo[popName(pop.Code)] += float64(ps.EdgeBytes())
			}
		}
		total.Add(sm)
		k := time.Unix(t, 0).UTC().Format(keyLayout)
		chart("RequestsServedChart")[k] = float64(sm.Requests)
		chart("PullRequestsPulledChart")[k] = float64(sm.OriginFetches)
		chart("BandwidthUsedChart")[k] = float64(sm.EdgeBytes())
		// Bytes of the requests answered from cache (the model's hits'
		// share of the bytes).
		cached := 0.0
		if sm.Requests > 0 {
			cached = float64(sm.EdgeBytes()) * float64(sm.Hits) / float64(sm.Requests)
		}
		chart("BandwidthCachedChart")[k] = float64(int64(cached))
		// Bunny's own hit rate: the share of requests not pulled from origin.
		rate := 0.0
		if sm.Requests > 0 {
			rate = 100 * (1 - float64(sm.OriginFetches)/float64(sm.Requests))
		}
		chart("CacheHitRateChart")[k] = rate
		if q.Get("loadOriginTraffic") == "true" {
			chart("OriginTrafficChart")[k] = float64(sm.OriginBytes())
		}
		if q.Get("loadErrors") == "true" {
			chart("Error3xxChart")[k] = float64(sm.Status3xx)
			chart("Error4xxChart")[k] = float64(sm.Status4xx)
			chart("Error5xxChart")[k] = float64(sm.Status5xx)
		}
	}
	out := map[string]any{
		"TotalBandwidthUsed":  total.EdgeBytes(),
		"TotalRequestsServed": total.Requests,
		"CacheHitRate":        0.0,
		// The balance chart's keys carry no zone, as Bunny writes them.
		"UserBalanceHistoryChart": map[string]float64{from.Truncate(24 * time.Hour).Add(37 * time.Minute).Format(balanceLayout): 98.52},
		"GeoTrafficDistribution":  geo,
	}
	if total.Requests > 0 {
		out["CacheHitRate"] = 100 * (1 - float64(total.OriginFetches)/float64(total.Requests))
	}
	if q.Get("loadOriginTraffic") == "true" {
		out["TotalOriginTraffic"] = total.OriginBytes()
	}
	for name, c := range charts {
		out[name] = c
	}
	writeJSON(w, http.StatusOK, out)
}

// services returns the model services a pullZone parameter selects.
func (s *stand) services(v string) ([]int, error) {
	var all []int
	for i := range s.sim.Model.Services {
		all = append(all, i)
	}
	if v == "" || strings.TrimSpace(v) == "-1" {
		return all, nil
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return nil, errors.New("pullZone is not a number")
	}
	for _, i := range all {
		if PullZoneID(i) == id {
			return []int{i}, nil
		}
	}
	return nil, fmt.Errorf("pull zone %d not found", id)
}

// popName is the GeoTrafficDistribution key of a POP.
func popName(code string) string {
	if n, ok := popNames[code]; ok {
		return n
	}
	return code
}
