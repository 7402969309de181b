package gcoresim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
	"github.com/cdnmetrics/cdnmetrics/internal/simulate"
	"github.com/cdnmetrics/cdnmetrics/internal/traffic"
)

const provider = "gcore"

// Paths of the two endpoints the stand-in serves.
const (
	SeriesPath    = "/cdn/statistics/series"
	ResourcesPath = "/cdn/resources"
)

// Lag is how far behind the stand-in's clock its newest complete bucket
// ends; later buckets are not served yet.
const Lag = 3 * time.Minute

// Granularity is what Config asks for.
const Granularity = "5m"

// MaxBuckets bounds one answer of the stand-in (the collector asks for 288
// at most), so that no request makes it sum the model for ever.
const MaxBuckets = 2000

// granularities are the bucket lengths Gcore documents.
var granularities = map[string]int64{"1m": 60, "5m": 300, "15m": 900, "1h": 3600, "1d": 86400}

// ResourceID is the Gcore resource id the stand-in gives the model's i-th
// service (Gcore's ids are integers; the model's are strings).
func ResourceID(i int) int64 { return 100001 + int64(i) }

// deletedID is a deleted resource the listing also shows, as Gcore's does.
const deletedID = 99999

// Region is the Gcore region code of a model POP region (Gcore groups its
// edge servers by na, eu, cis, asia, au, latam, me, africa, sa).
func Region(modelRegion string) string {
	switch modelRegion {
	case "europe":
		return "eu"
	case "usa":
		return "na"
	case "asia":
		return "asia"
	case "anzac":
		return "au"
	}
	return modelRegion
}

// Serve registers the stand-in: the resource list and the statistics
// series of the model's services, checking the APIKey Authorization header.
func Serve(mux *http.ServeMux, sim simulate.Env) {
	sim.Model = sim.Model.For(provider)
	s := &stand{sim: sim}
	mux.HandleFunc("GET "+ResourcesPath, s.auth(s.resources))
	mux.HandleFunc("GET "+SeriesPath, s.auth(s.series))
}

// Config returns the [gcore] section pointing at the stand-in: the model's
// services as resources with their names, the token from the environment
// variable collectors.SimSecretEnv.
func Config(baseURL, _ string) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "[gcore]\napi_url = %q\ntoken_env = %q\nschedule = \"@every 5m\"\ngranularity = %q\n",
		baseURL, collectors.SimSecretEnv, Granularity)
	for i, s := range traffic.Default(0).Services {
		fmt.Fprintf(&b, "\n[[gcore.resource]]\nid = %d\nname = %q\n", ResourceID(i), s.Name)
	}
	return b.String(), nil
}

// Bucket is what the stand-in publishes for one resource, region and
// bucket: Gcore's metrics by their documented meaning, computed from the
// model. ok is false for a bucket without requests (left out).
func Bucket(m *traffic.Model, svc int, region string, t, step int64) (vals map[string]int64, ok bool) {
	var s traffic.Sample
	for p, pop := range m.POPs {
		if Region(pop.Region) == region {
			s.Add(m.Sum(svc, p, t, t+step))
		}
	}
	if s.Requests == 0 {
		return nil, false
	}
	return map[string]int64{
		"requests": s.Requests,
		// Cache: HIT and Cache: MISS responses; the model's passes
		// (uncacheable) carry neither.
		"responses_hit":  s.Hits,
		"responses_miss": s.Misses,
		"responses_2xx":  s.Status2xx,
		"responses_3xx":  s.Status3xx,
		"responses_4xx":  s.Status4xx,
		"responses_5xx":  s.Status5xx,
		// CDN servers → clients; origin → CDN servers; their sum (the
		// model has no origin shielding, so shield_bytes is 0).
		"sent_bytes":     s.EdgeBytes(),
		"upstream_bytes": s.OriginBytes(),
		"total_bytes":    s.EdgeBytes() + s.OriginBytes(),
	}, true
}

// regions returns the Gcore regions of the model's POPs, sorted.
func regions(m *traffic.Model) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range m.Regions() {
		if g := Region(r); !seen[g] {
			seen[g] = true
			out = append(out, g)
		}
	}
	sort.Strings(out)
	return out
}

// Expect returns the records Collect emits over w from the stand-in as
// Config configures it: one per resource, region and 5-minute bucket that
// has requests, with Gcore's documented meanings (sent_bytes is what
// clients received, upstream_bytes what the origin sent).
func Expect(m *traffic.Model, w collectors.Window) []schema.Record {
	m = m.For(provider)
	step := granularities[Granularity]
	var out []schema.Record
	for si, svc := range m.Services {
		for t := ceil(w.Start.Unix(), step); t < w.End.Unix(); t += step {
			for _, reg := range regions(m) {
				v, ok := Bucket(m, si, reg, t, step)
				if !ok {
					continue
				}
				r := schema.Record{Provider: provider, Service: svc.Name, Location: reg, Start: t, Step: step}
				r.Set(schema.Requests, float64(v["requests"]))
				r.Set(schema.Hits, float64(v["responses_hit"]))
				r.Set(schema.Misses, float64(v["responses_miss"]))
				r.Set(schema.Status2xx, float64(v["responses_2xx"]))
				r.Set(schema.Status3xx, float64(v["responses_3xx"]))
				r.Set(schema.Status4xx, float64(v["responses_4xx"]))
				r.Set(schema.Status5xx, float64(v["responses_5xx"]))
				r.Set(schema.EdgeBytes, float64(v["sent_bytes"]))
				r.Set(schema.OriginBytes, float64(v["upstream_bytes"]))
				out = append(out, r)
			}
		}
	}
	return out
}

func ceil(t, step int64) int64 {
	if r := t % step; r != 0 {
		return t + step - r
	}
	return t
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

func (s *stand) secret() string {
	if s.sim.Secret != nil {
		return s.sim.Secret(provider)
	}
	return collectors.SimSecret
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// auth checks "Authorization: APIKey <token>" (the scheme in any case, as
// HTTP schemes are; Gcore's reference writes it apikey).
func (s *stand) auth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if !strings.EqualFold(scheme, "apikey") || tok != s.secret() {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Invalid authentication credentials"})
			return
		}
		next(w, r)
	}
}

type resourceItem struct {
	ID      int64   `json:"id"`
	Cname   string  `json:"cname"`
	Name    *string `json:"name,omitempty"`
	Active  bool    `json:"active"`
	Deleted bool    `json:"deleted"`
	Status  string  `json:"status"`
	Client  int64   `json:"client"`
}

// CNAME is the hostname of the model's service named name.
func CNAME(name string) string { return name + ".cdn.example.com" }

func (s *stand) resources(w http.ResponseWriter, r *http.Request) {
	items := []resourceItem{}
	for i, svc := range s.sim.Model.Services {
		name := svc.Name
		items = append(items, resourceItem{ID: ResourceID(i), Cname: CNAME(svc.Name), Name: &name, Active: true, Status: "active", Client: 170})
	}
	if r.URL.Query().Get("deleted") != "false" {
		// Gcore lists deleted resources with a few fields only.
		items = append(items, resourceItem{ID: deletedID, Cname: "gone.cdn.example.com", Deleted: true, Status: "deleted", Client: 170})
	}
	writeJSON(w, http.StatusOK, items)
}

// SeriesRequest is the query of GET /cdn/statistics/series as the stand-in
// reads it.
type SeriesRequest struct {
	From, To    time.Time
	Step        int64
	Metrics     []string
	ByResource  bool
	ByRegion    bool
	ResourceIDs []int64
}

// ParseSeriesRequest reads and checks the query the way Gcore documents
// it: service=CDN, from and to in RFC 3339, a documented granularity,
// metrics comma-separated, group_by and resource repeated.
func ParseSeriesRequest(q map[string][]string) (SeriesRequest, error) {
	var req SeriesRequest
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	if get("service") != "CDN" {
		return req, fmt.Errorf("service: must be CDN")
	}
	var err error
	if req.From, err = time.Parse(time.RFC3339, get("from")); err != nil {
		return req, fmt.Errorf("from: not an ISO 8601 time")
	}
	if req.To, err = time.Parse(time.RFC3339, get("to")); err != nil {
		return req, fmt.Errorf("to: not an ISO 8601 time")
	}
	if !req.From.Before(req.To) {
		return req, fmt.Errorf("from must be before to")
	}
	step, ok := granularities[get("granularity")]
	if !ok {
		return req, fmt.Errorf("granularity: must be one of 1m, 5m, 15m, 1h, 1d")
	}
	req.Step = step
	if n := (req.To.Unix() - req.From.Unix()) / step; n > MaxBuckets {
		return req, fmt.Errorf("from/to: %d buckets of %s, the stand-in serves at most %d", n, get("granularity"), MaxBuckets)
	}
	for _, m := range strings.Split(get("metrics"), ",") {
		if m = strings.TrimSpace(m); m != "" {
			req.Metrics = append(req.Metrics, m)
		}
	}
	if len(req.Metrics) == 0 {
		return req, fmt.Errorf("metrics: required")
	}
	for _, g := range q["group_by"] {
		for _, part := range strings.Split(g, ",") {
			switch part {
			case "resource":
				req.ByResource = true
			case "region":
				req.ByRegion = true
			}
		}
	}
	for _, v := range q["resource"] {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return req, fmt.Errorf("resource: %q is not an id", v)
		}
		req.ResourceIDs = append(req.ResourceIDs, id)
	}
	return req, nil
}

type metricsNode struct {
	Metrics map[string][][2]int64 `json:"metrics"`
}

func (s *stand) series(w http.ResponseWriter, r *http.Request) {
	req, err := ParseSeriesRequest(r.URL.Query())
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"errors": err.Error()})
		return
	}
	if !req.ByResource || !req.ByRegion {
		// The stand-in serves only the shape the collector asks for.
		writeJSON(w, http.StatusBadRequest, map[string]string{"errors": "the stand-in serves group_by=resource&group_by=region only"})
		return
	}
	m := s.sim.Model
	last := s.now().Add(-Lag).Unix() // buckets ending after it are not served yet
	want := map[int64]bool{}
	for _, id := range req.ResourceIDs {
		want[id] = true
	}
	out := map[string]map[string]map[string]metricsNode{}
	for si := range m.Services {
		id := ResourceID(si)
		if len(want) > 0 && !want[id] {
			continue
		}
		regs := map[string]metricsNode{}
		for t := ceil(req.From.Unix(), req.Step); t < req.To.Unix() && t+req.Step <= last; t += req.Step {
			for _, reg := range regions(m) {
				v, ok := Bucket(m, si, reg, t, req.Step)
				if !ok {
					continue
				}
				node, ok := regs[reg]
				if !ok {
					node = metricsNode{Metrics: map[string][][2]int64{}}
					regs[reg] = node
				}
				for _, name := range req.Metrics {
					if x, ok := v[name]; ok {
						node.Metrics[name] = append(node.Metrics[name], [2]int64{t, x})
					}
				}
			}
		}
		if len(regs) > 0 {
			out[strconv.FormatInt(id, 10)] = map[string]map[string]metricsNode{"region": regs}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"resource": out})
}
