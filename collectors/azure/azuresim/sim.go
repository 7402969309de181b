package azuresim

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"sort"
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
	provider   = "azure"
	period     = 60
	apiVersion = "2023-10-01"
	namespace  = "Microsoft.Cdn/profiles"
	// Scope is the only scope the token endpoint grants.
	Scope = "https://management.azure.com/.default"
)

// Identities the stand-in knows. None is a secret: the client secret is the
// simulator credential (collectors.SimSecret).
const (
	Tenant        = "00000000-0000-4000-8000-00000000a2e0"
	ClientID      = "11111111-1111-4111-8111-cdnmetricss1m"
	Subscription  = "00000000-0000-4000-8000-0000000000b2"
	ResourceGroup = "rg-cdnmetrics-sim"
)

// Lag is how far behind the stand-in's clock its data ends: younger
// minutes are answered empty (counts 0, averages timestamp-only), as Azure
// Monitor answers minutes it has not processed yet.
const Lag = 2 * time.Minute

// TokenLifetime is the expires_in of the tokens the stand-in issues.
var TokenLifetime = time.Hour

// ByRegion lists the profiles (model service names) Config collects with
// by_region = true; EndpointOf those it restricts to their one endpoint.
var (
	ByRegion   = map[string]bool{"www": true}
	EndpointOf = map[string]bool{"api": true}
)

// ResourceID is the ARM id of the profile serving model service name.
func ResourceID(name string) string {
	return "/subscriptions/" + Subscription + "/resourceGroups/" + ResourceGroup + "/providers/Microsoft.Cdn/profiles/" + name
}

// Endpoint is the one endpoint host of the profile serving name.
func Endpoint(name string) string { return name + "-cdnmetrics-sim.z01.azurefd.net" }

// TokenPath is the token endpoint's path under the stand-in's base URL.
func TokenPath() string { return "/" + Tenant + "/oauth2/v2.0/token" }

// ClientRegion is the ClientRegion value of a model POP region.
func ClientRegion(region string) string {
	switch region {
	case "europe":
		return "Europe"
	case "usa":
		return "North America"
	case "asia":
		return "Asia"
	case "anzac":
		return "Oceania"
	}
	return strings.ToUpper(region[:min(1, len(region))]) + region[min(1, len(region)):]
}

// metricDims is each metric's unit, the dimensions Azure Monitor documents
// for it (supported metrics of Microsoft.Cdn/profiles) and whether it is a
// count (Total) or an average.
var metricDims = map[string]struct {
	unit  string
	dims  []string
	count bool
}{
	"RequestCount":       {"Count", []string{"HttpStatus", "HttpStatusGroup", "ClientRegion", "ClientCountry", "Endpoint"}, true},
	"ResponseSize":       {"Bytes", []string{"HttpStatus", "HttpStatusGroup", "ClientRegion", "ClientCountry", "Endpoint"}, true},
	"OriginRequestCount": {"Count", []string{"HttpStatus", "HttpStatusGroup", "Origin", "Endpoint"}, true},
	"ByteHitRatio":       {"Percent", []string{"Endpoint"}, false},
	"TotalLatency":       {"MilliSeconds", []string{"HttpStatus", "HttpStatusGroup", "ClientRegion", "ClientCountry", "Endpoint"}, false},
	"OriginLatency":      {"MilliSeconds", []string{"Origin", "Endpoint"}, false},
}

// Config returns the [azure] section pointing at the stand-in, the client
// secret from the environment variable collectors.SimSecretEnv.
func Config(baseURL, _ string) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "[azure]\ntenant_id = %q\nclient_id = %q\nclient_secret_env = %q\ntoken_url = %q\napi_url = %q\nschedule = \"@every 1m\"\n",
		Tenant, ClientID, collectors.SimSecretEnv, baseURL+TokenPath(), baseURL)
	for _, s := range traffic.Default(0).Services {
		fmt.Fprintf(&b, "\n[[azure.profile]]\nresource_id = %q\nname = %q\n", ResourceID(s.Name), s.Name)
		if EndpointOf[s.Name] {
			fmt.Fprintf(&b, "endpoint = %q\n", Endpoint(s.Name))
		}
		if ByRegion[s.Name] {
			b.WriteString("by_region = true\n")
		}
	}
	return b.String(), nil
}

// Expect returns the records Collect emits over w from the stand-in as
// Config configures it, from the model and Microsoft's documented
// meanings: RequestCount = client requests, ResponseSize = bytes sent to
// clients, OriginRequestCount = requests sent to origin, RequestCount by
// HttpStatusGroup = the status classes, and origin egress = edge egress −
// Byte Hit Ratio × edge egress (Byte Hit Ratio = (egress from edge − egress
// from origin) / egress from edge), i.e. the model's origin bytes. With
// by_region, one record per ClientRegion, its location the region's name as
// a Graphite node (lower case, spaces as '_').
func Expect(m *traffic.Model, w collectors.Window) []schema.Record {
	m = m.For(provider)
	var out []schema.Record
	for si, svc := range m.Services {
		for t := ceilMinute(w.Start); t < w.End.Unix(); t += period {
			s := m.SumAll(si, t, t+period)
			r := schema.Record{Provider: provider, Service: svc.Name, Location: schema.LocationAll, Start: t, Step: period}
			r.Set(schema.Requests, float64(s.Requests))
			r.Set(schema.EdgeBytes, float64(s.EdgeBytes()))
			r.Set(schema.OriginRequests, float64(s.OriginFetches))
			r.Set(schema.OriginBytes, float64(s.OriginBytes()))
			setStatus(&r, s)
			out = append(out, r)
			if !ByRegion[svc.Name] {
				continue
			}
			for _, reg := range m.Regions() {
				rs := m.SumRegion(si, reg, t, t+period)
				loc := strings.ReplaceAll(strings.ToLower(ClientRegion(reg)), " ", "_")
				rr := schema.Record{Provider: provider, Service: svc.Name, Location: loc, Start: t, Step: period}
				rr.Set(schema.Requests, float64(rs.Requests))
				rr.Set(schema.EdgeBytes, float64(rs.EdgeBytes()))
				setStatus(&rr, rs)
				out = append(out, rr)
			}
		}
	}
	return out
}

func setStatus(r *schema.Record, s traffic.Sample) {
	r.Set(schema.Status2xx, float64(s.Status2xx))
	r.Set(schema.Status3xx, float64(s.Status3xx))
	r.Set(schema.Status4xx, float64(s.Status4xx))
	r.Set(schema.Status5xx, float64(s.Status5xx))
}

func ceilMinute(t time.Time) int64 {
	u := t.Unix()
	if r := u % period; r != 0 {
		u += period - r
	} else if t.Nanosecond() != 0 {
		u += period
	}
	return u
}

type stand struct {
	sim    simulate.Env
	secret string

	mu     sync.Mutex
	issued map[string]time.Time // access token → expiry
	reads  int
}

// Serve registers the token endpoint and the metrics API on mux.
func Serve(mux *http.ServeMux, sim simulate.Env) {
	sim.Model = sim.Model.For(provider)
	s := &stand{sim: sim, secret: collectors.SimSecret, issued: map[string]time.Time{}}
	if sim.Secret != nil {
		s.secret = sim.Secret(provider)
	}
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", s.token)
	mux.HandleFunc("GET /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Cdn/profiles/{profile}/providers/Microsoft.Insights/metrics", s.metrics)
}

func (s *stand) now() time.Time {
	if s.sim.Now != nil {
		return s.sim.Now()
	}
	return time.Now()
}

// oauthError answers as the Microsoft identity platform does.
func oauthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": code, "error_description": desc, "error_codes": []int{7000215}})
}

func (s *stand) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "AADSTS70003: The app requested an unsupported grant type.")
		return
	}
	if r.PathValue("tenant") != Tenant {
		oauthError(w, http.StatusBadRequest, "invalid_request", "AADSTS90002: Tenant '"+r.PathValue("tenant")+"' not found.")
		return
	}
	if r.PostForm.Get("client_id") != ClientID {
		oauthError(w, http.StatusBadRequest, "unauthorized_client", "AADSTS700016: Application with identifier '"+r.PostForm.Get("client_id")+"' was not found in the directory.")
		return
	}
	if subtle.ConstantTimeCompare([]byte(r.PostForm.Get("client_secret")), []byte(s.secret)) != 1 {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '"+ClientID+"'.")
		return
	}
	if r.PostForm.Get("scope") != Scope {
		oauthError(w, http.StatusBadRequest, "invalid_scope", "AADSTS70011: The provided request must include a 'scope' input parameter.")
		return
	}
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	tok := "eyJ0eXAiOiJKV1Qi.sim." + hex.EncodeToString(b)
	s.mu.Lock()
	s.issued[tok] = s.now().Add(TokenLifetime)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(map[string]any{"token_type": "Bearer", "expires_in": int(TokenLifetime.Seconds()),
		"ext_expires_in": int(TokenLifetime.Seconds()), "access_token": tok})
}

// armError answers an ARM error envelope.
func armError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

func (s *stand) authorized(w http.ResponseWriter, r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		armError(w, http.StatusUnauthorized, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")
		return false
	}
	s.mu.Lock()
	exp, known := s.issued[tok]
	s.mu.Unlock()
	switch {
	case !known:
		armError(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "The access token is invalid.")
		return false
	case !s.now().Before(exp):
		armError(w, http.StatusUnauthorized, "ExpiredAuthenticationToken", "The access token expiry UTC time is earlier than current UTC time.")
		return false
	}
	return true
}

// request is a metrics call as the stand-in reads it.
type request struct {
	metrics    []string
	aggs       []string
	start, end time.Time
	filter     map[string]string // dimension → value ("*" splits)
	splitOrder []string
	top        int
}

// parseRequest checks the query as Azure Monitor would; err is the
// message of a 400 BadRequest.
func parseRequest(q map[string][]string) (request, error) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	var req request
	if v := get("api-version"); v != apiVersion {
		return req, fmt.Errorf("the api-version %q is not supported by this stand-in (use %s)", v, apiVersion)
	}
	if ns := get("metricnamespace"); ns != "" && !strings.EqualFold(ns, namespace) {
		return req, fmt.Errorf("metric namespace %q is not %s", ns, namespace)
	}
	if get("interval") != "PT1M" {
		return req, fmt.Errorf("interval %q: the stand-in serves PT1M only", get("interval"))
	}
	start, end, ok := strings.Cut(get("timespan"), "/")
	var err1, err2 error
	req.start, err1 = time.Parse(time.RFC3339, start)
	req.end, err2 = time.Parse(time.RFC3339, end)
	if !ok || err1 != nil || err2 != nil || !req.start.Before(req.end) {
		return req, fmt.Errorf("timespan %q is not start/end in ISO 8601", get("timespan"))
	}
	if req.end.Sub(req.start) > 31*24*time.Hour {
		return req, fmt.Errorf("timespan %q is longer than the stand-in serves", get("timespan"))
	}
	for _, m := range strings.Split(get("metricnames"), ",") {
		found := ""
		for name := range metricDims {
			if strings.EqualFold(name, strings.TrimSpace(m)) {
				found = name
			}
		}
		if found == "" {
			return req, fmt.Errorf("Failed to find metric configuration for provider: Microsoft.Cdn, resource Type: profiles, metric: %s", m)
		}
		req.metrics = append(req.metrics, found)
	}
	if len(req.metrics) > 20 {
		return req, fmt.Errorf("at most 20 metric names")
	}
	for _, a := range strings.Split(get("aggregation"), ",") {
		switch strings.ToLower(strings.TrimSpace(a)) {
		case "total", "average":
			req.aggs = append(req.aggs, strings.ToLower(strings.TrimSpace(a)))
		default:
			return req, fmt.Errorf("aggregation %q is not served by the stand-in", a)
		}
	}
	req.top = 10 // Azure Monitor's default
	if t := get("top"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 1 {
			return req, fmt.Errorf("top %q is not a positive number", t)
		}
		req.top = n
	}
	req.filter = map[string]string{}
	if f := strings.TrimSpace(get("$filter")); f != "" {
		for _, clause := range strings.Split(f, " and ") {
			dim, val, ok := strings.Cut(strings.TrimSpace(clause), " eq ")
			val = strings.TrimSpace(val)
			if !ok || len(val) < 2 || val[0] != '\'' || val[len(val)-1] != '\'' {
				return req, fmt.Errorf("$filter clause %q is not \"Dimension eq 'value'\"", clause)
			}
			dim = strings.TrimSpace(dim)
			req.filter[dim] = val[1 : len(val)-1]
			if req.filter[dim] == "*" {
				req.splitOrder = append(req.splitOrder, dim)
			}
		}
	}
	// Azure refuses a filter on a dimension one of the metrics lacks.
	for _, m := range req.metrics {
		for dim := range req.filter {
			has := false
			for _, d := range metricDims[m].dims {
				has = has || d == dim
			}
			if !has {
				return req, fmt.Errorf("Metric: %s does not support requested dimension combination: %s, supported ones are: %s",
					m, dim, strings.Join(metricDims[m].dims, ","))
			}
		}
	}
	return req, nil
}

// minute is what a profile served in one minute, by region.
type minute struct {
	all      traffic.Sample
	byRegion map[string]traffic.Sample
}

func (s *stand) metrics(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.reads++
	reads := s.reads
	s.mu.Unlock()
	// ARM's read budget: plenty left, counting down per call.
	w.Header().Set("x-ms-ratelimit-remaining-subscription-reads", strconv.Itoa(11999-reads%11000))
	if !s.authorized(w, r) {
		return
	}
	if r.PathValue("sub") != Subscription || !strings.EqualFold(r.PathValue("rg"), ResourceGroup) {
		armError(w, http.StatusForbidden, "AuthorizationFailed", "The client '"+ClientID+"' does not have authorization to perform action 'microsoft.insights/metrics/read' over scope '"+strings.TrimSuffix(r.URL.Path, "/providers/Microsoft.Insights/metrics")+"'.")
		return
	}
	svc := -1
	for i, sv := range s.sim.Model.Services {
		if strings.EqualFold(sv.Name, r.PathValue("profile")) {
			svc = i
		}
	}
	if svc < 0 {
		armError(w, http.StatusNotFound, "ResourceNotFound", "The Resource 'Microsoft.Cdn/profiles/"+r.PathValue("profile")+"' under resource group '"+ResourceGroup+"' was not found.")
		return
	}
	req, err := parseRequest(r.URL.Query())
	if err != nil {
		armError(w, http.StatusBadRequest, "BadRequest", err.Error())
		return
	}
	name := s.sim.Model.Services[svc].Name
	served := true
	if e, ok := req.filter["Endpoint"]; ok && e != "*" && !strings.EqualFold(e, Endpoint(name)) {
		served = false // another endpoint: no traffic here
	}
	m := s.sim.Model
	last := s.now().Add(-Lag).Unix()
	var minutes []int64
	data := map[int64]*minute{}
	for t := ceilMinute(req.start); t < req.end.Unix(); t += period {
		minutes = append(minutes, t)
		if !served || t+period > last {
			continue // not processed yet (or no traffic): an empty bucket
		}
		mi := &minute{all: m.SumAll(svc, t, t+period), byRegion: map[string]traffic.Sample{}}
		for _, reg := range m.Regions() {
			mi.byRegion[ClientRegion(reg)] = m.SumRegion(svc, reg, t, t+period)
		}
		data[t] = mi
	}
	value := []any{}
	for _, metric := range req.metrics {
		value = append(value, s.metricJSON(r.URL.Path, name, metric, req, minutes, data))
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"cost":           len(minutes) * len(req.metrics),
		"timespan":       req.start.UTC().Format(time.RFC3339) + "/" + req.end.UTC().Format(time.RFC3339),
		"interval":       "PT1M",
		"value":          value,
		"namespace":      namespace,
		"resourceregion": "global",
	})
}

// seriesKey is one combination of split dimension values.
type seriesKey struct{ region, group string }

var groups = []string{"2XX", "3XX", "4XX", "5XX"}

func groupCount(s traffic.Sample, g string) int64 {
	switch g {
	case "2XX":
		return s.Status2xx
	case "3XX":
		return s.Status3xx
	case "4XX":
		return s.Status4xx
	case "5XX":
		return s.Status5xx
	}
	return 0
}

// value is what metric counts (or averages) in sample s for status group
// g ("" = every group); ok is false for an average without requests.
func value(metric string, s traffic.Sample, g string) (float64, bool) {
	share := 1.0
	if g != "" && s.Requests > 0 {
		share = float64(groupCount(s, g)) / float64(s.Requests)
	}
	switch metric {
	case "RequestCount":
		if g != "" {
			return float64(groupCount(s, g)), true
		}
		return float64(s.Requests), true
	case "ResponseSize":
		return math.Round(float64(s.EdgeBytes()) * share), true
	case "OriginRequestCount":
		return math.Round(float64(s.OriginFetches) * share), true
	case "ByteHitRatio":
		if s.EdgeBytes() == 0 {
			return 0, false
		}
		return 100 * float64(s.EdgeBytes()-s.OriginBytes()) / float64(s.EdgeBytes()), true
	case "TotalLatency":
		if s.Requests == 0 {
			return 0, false
		}
		return 18 + 140*float64(s.OriginFetches)/float64(s.Requests), true
	case "OriginLatency":
		if s.OriginFetches == 0 {
			return 0, false
		}
		return 95 + float64(s.OriginFetches%40), true
	}
	return 0, false
}

func (s *stand) metricJSON(path, profile, metric string, req request, minutes []int64, data map[int64]*minute) map[string]any {
	spec := metricDims[metric]
	var keys []seriesKey
	split := map[string]bool{}
	for _, d := range req.splitOrder {
		split[d] = true
	}
	regions := []string{""}
	if split["ClientRegion"] {
		regions = nil
		seen := map[string]bool{}
		for _, reg := range s.sim.Model.Regions() {
			if cr := ClientRegion(reg); !seen[cr] {
				seen[cr] = true
				regions = append(regions, cr)
			}
		}
	}
	gs := []string{""}
	if split["HttpStatusGroup"] {
		gs = groups
	}
	for _, reg := range regions {
		for _, g := range gs {
			keys = append(keys, seriesKey{reg, g})
		}
	}
	sample := func(k seriesKey, t int64) (traffic.Sample, bool) {
		mi := data[t]
		if mi == nil {
			return traffic.Sample{}, false
		}
		if k.region != "" {
			return mi.byRegion[k.region], true
		}
		return mi.all, true
	}
	type series struct {
		meta []any
		data []map[string]any
		sum  float64
	}
	var all []series
	for _, k := range keys {
		var se series
		for _, d := range req.splitOrder {
			v := ""
			switch d {
			case "ClientRegion":
				v = k.region
			case "HttpStatusGroup":
				v = k.group
			default:
				continue
			}
			se.meta = append(se.meta, map[string]any{"name": map[string]string{"value": strings.ToLower(d), "localizedValue": strings.ToLower(d)}, "value": v})
		}
		if e, ok := req.filter["Endpoint"]; ok && e != "*" {
			se.meta = append(se.meta, map[string]any{"name": map[string]string{"value": "endpoint", "localizedValue": "endpoint"}, "value": e})
		}
		for _, t := range minutes {
			p := map[string]any{"timeStamp": time.Unix(t, 0).UTC().Format(time.RFC3339)}
			smp, ok := sample(k, t)
			for _, a := range req.aggs {
				switch {
				case spec.count && a == "total":
					v := 0.0 // Azure answers an empty count bucket with 0
					if ok {
						v, _ = value(metric, smp, k.group)
					}
					p["total"] = v
					se.sum += v
				case !spec.count && a == "average" && ok:
					if v, has := value(metric, smp, k.group); has {
						p["average"] = v
						se.sum++
					}
				case spec.count && a == "average":
					v := 0.0
					if ok {
						v, _ = value(metric, smp, k.group)
					}
					p["average"] = v
				}
			}
			se.data = append(se.data, p)
		}
		if se.meta == nil {
			se.meta = []any{}
		}
		all = append(all, se)
	}
	// A split answers only dimension values seen in the timespan, the
	// largest first, at most top of them.
	if len(req.splitOrder) > 0 {
		kept := all[:0]
		for _, se := range all {
			if se.sum > 0 {
				kept = append(kept, se)
			}
		}
		all = kept
		sort.SliceStable(all, func(i, j int) bool { return all[i].sum > all[j].sum })
		if len(all) > req.top {
			all = all[:req.top]
		}
	}
	ts := make([]any, 0, len(all))
	for _, se := range all {
		ts = append(ts, map[string]any{"metadatavalues": se.meta, "data": se.data})
	}
	return map[string]any{
		"id":                 path + "/" + metric,
		"type":               "Microsoft.Insights/metrics",
		"name":               map[string]string{"value": metric, "localizedValue": metric},
		"displayDescription": "",
		"unit":               spec.unit,
		"timeseries":         ts,
		"errorCode":          "Success",
	}
}
