package gcpsim

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
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

// Cloud Monitoring and Google's token endpoint as the stand-in serves
// them.
const (
	provider = "gcp"
	step     = 60
	// Project is the project the stand-in serves.
	Project = "cdnmetrics-sim"
	// ClientEmail is the service account the stand-in issues tokens to.
	ClientEmail = "cdnmetrics@cdnmetrics-sim.iam.gserviceaccount.com"
	// TokenPath is the token endpoint (Google's is
	// https://oauth2.googleapis.com/token).
	TokenPath = "/token"
	// ListPath is projects.timeSeries.list.
	ListPath = "/v3/projects/{project}/timeSeries"
	// Scope is the OAuth scope a token must be asked for.
	Scope = "https://www.googleapis.com/auth/monitoring.read"
	// MaxPagePoints is the most points one page holds, whatever pageSize
	// asks: the API may answer fewer than asked, and the stand-in does so
	// that paging (a series cut across pages) happens in every window.
	MaxPagePoints = 300
	// TokenLifetime is how long an access token is accepted.
	TokenLifetime = time.Hour
	// Lag is how far behind the stand-in's clock its data ends.
	Lag = 2 * time.Minute
	// KeyFileName is the service-account key Config writes into its dir.
	KeyFileName = "gcp-sa.json"
)

// Metric types served, on resource https_lb_rule.
const (
	RequestCount       = "loadbalancing.googleapis.com/https/request_count"
	ResponseBytes      = "loadbalancing.googleapis.com/https/response_bytes_count"
	BackendRequests    = "loadbalancing.googleapis.com/https/backend_request_count"
	BackendRespBytes   = "loadbalancing.googleapis.com/https/backend_response_bytes_count"
	resourceType       = "https_lb_rule"
	labelURLMap        = "url_map_name"
	labelCacheResult   = "cache_result"
	labelResponseClass = "response_code_class"
	labelContinent     = "proxy_continent"
)

// Continents maps the model's POP regions to proxy_continent values.
var Continents = map[string]string{"europe": "Europe", "usa": "America", "asia": "Asia", "anzac": "Oceania"}

// URLMap is the url map the stand-in names a model service by.
func URLMap(svc traffic.Service) string { return svc.Name + "-map" }

// simKey is the stand-in's service-account key, made once per process:
// Config writes its private half into the key file, the token endpoint
// verifies assertions with its public half.
var simKey = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })

// KeyFile returns a service-account JSON key for key whose token_uri is
// tokenURI, in Google's format.
func KeyFile(key *rsa.PrivateKey, tokenURI string) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	id := sha256.Sum256(der)
	return json.MarshalIndent(map[string]string{
		"type":                        "service_account",
		"project_id":                  Project,
		"private_key_id":              hex.EncodeToString(id[:20]),
		"private_key":                 string(pemKey),
		"client_email":                ClientEmail,
		"client_id":                   "100000000000000000001",
		"auth_uri":                    "https://accounts.google.com/o/oauth2/auth",
		"token_uri":                   tokenURI,
		"auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
	}, "", "  ")
}

// Serve registers the stand-ins: the token endpoint (JWT bearer grant,
// RS256 assertion verified with the key's public half) and
// projects.timeSeries.list serving the model.
func Serve(mux *http.ServeMux, sim simulate.Env) {
	sim.Model = sim.Model.For(provider)
	s := &stand{sim: sim, tokens: map[string]time.Time{}}
	mux.HandleFunc("POST "+TokenPath, s.token)
	mux.HandleFunc("GET "+ListPath, s.list)
}

// Config writes a service-account key whose token_uri is the stand-in's
// token endpoint into dir and returns the [gcp] section pointing at it.
func Config(baseURL, dir string) (string, error) {
	key, err := simKey()
	if err != nil {
		return "", err
	}
	b, err := KeyFile(key, baseURL+TokenPath)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", err
	}
	path := filepath.Join(dir, KeyFileName)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return "", err
	}
	if err := os.Chmod(path, 0o600); err != nil { // an older file keeps its mode
		return "", err
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "[gcp]\nproject = %q\ncredentials_file = %q\napi_url = %q\nschedule = \"@every 1m\"\n", Project, path, baseURL)
	for _, svc := range traffic.Default(0).Services {
		fmt.Fprintf(&sb, "\n[[gcp.backend]]\nid = %q\nname = %q\n", URLMap(svc), svc.Name)
	}
	return sb.String(), nil
}

// Expect returns the records Collect emits over w from the stand-in as
// Config configures it, from the model and Google's documented meanings:
// per url map and minute with traffic, "all" and one record per proxy
// continent with traffic. Every request is one of HIT (hits), MISS
// (misses) or DISABLED (passes; the model has no partial hits); origin
// requests are the backend requests not labelled HIT (Google counts cache
// hits as backend requests labelled HIT), i.e. the model's origin fetches,
// and origin bytes the model's.
func Expect(m *traffic.Model, w collectors.Window) []schema.Record {
	m = m.For(provider)
	var out []schema.Record
	for si, svc := range m.Services {
		for t := ceilMinute(w.Start); t < w.End.Unix(); t += step {
			var all traffic.Sample
			for _, cont := range continentsOf(m) {
				s := sumContinent(m, si, cont, t)
				if s.Requests == 0 {
					continue
				}
				all.Add(s)
				out = append(out, expectRecord(svc.Name, strings.ToLower(cont), t, s))
			}
			if all.Requests > 0 {
				out = append(out, expectRecord(svc.Name, schema.LocationAll, t, all))
			}
		}
	}
	return out
}

func expectRecord(service, loc string, t int64, s traffic.Sample) schema.Record {
	r := schema.Record{Provider: provider, Service: service, Location: loc, Start: t, Step: step}
	r.Set(schema.Requests, float64(s.Requests))
	r.Set(schema.Hits, float64(s.Hits))
	r.Set(schema.Misses, float64(s.Misses))
	r.Set(schema.Passes, float64(s.Passes))
	r.Set(schema.EdgeBytes, float64(s.EdgeBytes()))
	r.Set(schema.OriginRequests, float64(s.OriginFetches))
	r.Set(schema.OriginBytes, float64(s.OriginBytes()))
	r.Set(schema.Status2xx, float64(s.Status2xx))
	r.Set(schema.Status3xx, float64(s.Status3xx))
	r.Set(schema.Status4xx, float64(s.Status4xx))
	r.Set(schema.Status5xx, float64(s.Status5xx))
	return r
}

// continentsOf returns the proxy continents of the model's POPs, sorted.
func continentsOf(m *traffic.Model) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range m.POPs {
		c := continent(p.Region)
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	sort.Strings(out)
	return out
}

func continent(region string) string {
	if c, ok := Continents[region]; ok {
		return c
	}
	return "Other"
}

// sumContinent is what svc served over minute t at the POPs of continent.
func sumContinent(m *traffic.Model, svc int, cont string, t int64) traffic.Sample {
	var s traffic.Sample
	for p, pop := range m.POPs {
		if continent(pop.Region) == cont {
			s.Add(m.Sum(svc, p, t, t+step))
		}
	}
	return s
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

type stand struct {
	sim    simulate.Env
	mu     sync.Mutex
	tokens map[string]time.Time // access token → expiry
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

// apiError answers in google.rpc.Status JSON.
func apiError(w http.ResponseWriter, code int, status, msg string) {
	writeJSON(w, code, map[string]any{"error": map[string]any{"code": code, "message": msg, "status": status}})
}

// token is the JWT bearer grant (RFC 7523) as Google's token endpoint
// answers it: real time, not the simulated clock, judges the assertion's
// and the token's lifetimes, since the client stamps them with its own.
func (s *stand) token(w http.ResponseWriter, r *http.Request) {
	oauthErr := func(code, desc string) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": code, "error_description": desc})
	}
	if err := r.ParseForm(); err != nil {
		oauthErr("invalid_request", "cannot parse the form")
		return
	}
	if r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		oauthErr("unsupported_grant_type", "Invalid grant_type.")
		return
	}
	key, err := simKey()
	if err != nil {
		oauthErr("internal_failure", "no key")
		return
	}
	claims, err := VerifyAssertion(r.PostForm.Get("assertion"), &key.PublicKey, time.Now())
	if err != nil {
		oauthErr("invalid_grant", err.Error())
		return
	}
	if claims.Iss != ClientEmail {
		oauthErr("invalid_grant", "Invalid email or User ID")
		return
	}
	if !strings.Contains(" "+claims.Scope+" ", " "+Scope+" ") {
		oauthErr("invalid_scope", "The assertion does not ask for "+Scope)
		return
	}
	buf := make([]byte, 24)
	_, _ = rand.Read(buf)
	tok := "ya29.sim-" + base64.RawURLEncoding.EncodeToString(buf)
	s.mu.Lock()
	now := time.Now()
	for t, exp := range s.tokens {
		if now.After(exp) {
			delete(s.tokens, t)
		}
	}
	s.tokens[tok] = now.Add(TokenLifetime)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"access_token": tok, "expires_in": int(TokenLifetime.Seconds()), "token_type": "Bearer"})
}

// Claims are the JWT claims the token endpoint checks.
type Claims struct {
	Iss   string `json:"iss"`
	Scope string `json:"scope"`
	Aud   string `json:"aud"`
	Exp   int64  `json:"exp"`
	Iat   int64  `json:"iat"`
}

// VerifyAssertion checks a JWT bearer assertion: RS256 signed by pub, for
// a token endpoint (aud ends in /token), issued and not expired at now
// (a minute of skew allowed), living at most an hour.
func VerifyAssertion(assertion string, pub *rsa.PublicKey, now time.Time) (Claims, error) {
	var c Claims
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return c, errors.New("Invalid JWT: not header.claims.signature")
	}
	hb, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	cb, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return c, errors.New("Invalid JWT: not base64url")
	}
	var h struct {
		Alg string `json:"alg"`
		Typ string `json:"typ"`
	}
	if json.Unmarshal(hb, &h) != nil || h.Alg != "RS256" {
		return c, errors.New("Invalid JWT: alg is not RS256")
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig) != nil {
		return c, errors.New("Invalid JWT Signature.")
	}
	if json.Unmarshal(cb, &c) != nil {
		return c, errors.New("Invalid JWT: claims are not JSON")
	}
	switch {
	case !strings.HasSuffix(c.Aud, TokenPath):
		return c, errors.New("Invalid JWT: aud is not a token endpoint")
	case c.Iat > now.Add(time.Minute).Unix():
		return c, errors.New("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.")
	case c.Exp < now.Add(-time.Minute).Unix() || c.Exp-c.Iat > 3600:
		return c, errors.New("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.")
	}
	return c, nil
}

func (s *stand) authorized(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.tokens[tok]
	return ok && time.Now().Before(exp)
}

var (
	metricTypeRE = regexp.MustCompile(`metric\.type\s*=\s*"([^"]+)"`)
	urlMapsRE    = regexp.MustCompile(`resource\.labels\.url_map_name\s*=\s*one_of\(([^)]*)\)`)
	quotedRE     = regexp.MustCompile(`"([^"]*)"`)
)

// Query is a timeSeries.list request as the stand-in understands it.
type Query struct {
	Metric    string
	URLMaps   []string // nil: every url map
	Start     time.Time
	End       time.Time
	PageSize  int
	PageToken string
}

// ParseQuery reads and checks a timeSeries.list query: the aggregation
// the stand-in serves (60 s ALIGN_DELTA, REDUCE_SUM grouped by url map,
// cache result, status class and continent) and nothing else.
func ParseQuery(q map[string][]string) (Query, error) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	var out Query
	filter := get("filter")
	mm := metricTypeRE.FindStringSubmatch(filter)
	if mm == nil {
		return out, errors.New("Field filter had an invalid value: a metric.type is required")
	}
	out.Metric = mm[1]
	switch out.Metric {
	case RequestCount, ResponseBytes, BackendRequests, BackendRespBytes:
	default:
		return out, fmt.Errorf("Field filter had an invalid value: metric %q is not served by the stand-in", out.Metric)
	}
	if !strings.Contains(filter, `resource.type = "`+resourceType+`"`) {
		return out, errors.New("Field filter had an invalid value: resource.type must be " + resourceType)
	}
	if um := urlMapsRE.FindStringSubmatch(filter); um != nil {
		out.URLMaps = []string{}
		for _, q := range quotedRE.FindAllStringSubmatch(um[1], -1) {
			out.URLMaps = append(out.URLMaps, q[1])
		}
	}
	var err1, err2 error
	out.Start, err1 = time.Parse(time.RFC3339, get("interval.startTime"))
	out.End, err2 = time.Parse(time.RFC3339, get("interval.endTime"))
	if err1 != nil || err2 != nil || !out.Start.Before(out.End) {
		return out, errors.New("Field interval had an invalid value: startTime and endTime must be RFC 3339, start before end")
	}
	if get("aggregation.alignmentPeriod") != "60s" || get("aggregation.perSeriesAligner") != "ALIGN_DELTA" || get("aggregation.crossSeriesReducer") != "REDUCE_SUM" {
		return out, errors.New("Field aggregation had an invalid value: the stand-in serves alignmentPeriod 60s, ALIGN_DELTA, REDUCE_SUM")
	}
	want := map[string]bool{"resource.labels." + labelURLMap: true, "metric.labels." + labelCacheResult: true,
		"metric.labels." + labelResponseClass: true, "metric.labels." + labelContinent: true}
	got := map[string]bool{}
	for _, g := range q["aggregation.groupByFields"] {
		got[g] = true
	}
	for g := range want {
		if !got[g] {
			return out, fmt.Errorf("Field aggregation.groupByFields had an invalid value: the stand-in groups by %s", g)
		}
	}
	out.PageSize = 100000
	if ps := get("pageSize"); ps != "" {
		n, err := strconv.Atoi(ps)
		if err != nil || n <= 0 {
			return out, errors.New("Field pageSize had an invalid value")
		}
		out.PageSize = min(n, 100000)
	}
	out.PageToken = get("pageToken")
	return out, nil
}

func (s *stand) list(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		apiError(w, http.StatusUnauthorized, "UNAUTHENTICATED",
			"Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.")
		return
	}
	if r.PathValue("project") != Project {
		apiError(w, http.StatusForbidden, "PERMISSION_DENIED", fmt.Sprintf("Permission monitoring.timeSeries.list denied (or the resource may not exist) on project %q.", r.PathValue("project")))
		return
	}
	q, err := ParseQuery(r.URL.Query())
	if err != nil {
		apiError(w, http.StatusBadRequest, "INVALID_ARGUMENT", err.Error())
		return
	}
	series := s.series(q)
	// Points are counted across series; a page ends after MaxPagePoints
	// (or pageSize) of them, in the middle of a series if need be.
	offset := 0
	if q.PageToken != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(q.PageToken, "pt-"))
		if err != nil || n <= 0 || !strings.HasPrefix(q.PageToken, "pt-") {
			apiError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Field pageToken had an invalid value")
			return
		}
		offset = n
	}
	limit := min(q.PageSize, MaxPagePoints)
	var out []map[string]any
	seen, served := 0, 0
	for _, ts := range series {
		pts := ts.points
		if seen+len(pts) <= offset {
			seen += len(pts)
			continue
		}
		from := max(0, offset-seen)
		to := min(len(pts), from+limit-served)
		out = append(out, ts.json(pts[from:to]))
		served += to - from
		seen += len(pts)
		if served == limit {
			break
		}
	}
	total := 0
	for _, ts := range series {
		total += len(ts.points)
	}
	body := map[string]any{"unit": "1"}
	if q.Metric == ResponseBytes || q.Metric == BackendRespBytes {
		body["unit"] = "By"
	}
	if len(out) > 0 {
		body["timeSeries"] = out
	}
	if offset+served < total {
		body["nextPageToken"] = fmt.Sprintf("pt-%d", offset+served)
	}
	writeJSON(w, http.StatusOK, body)
}

type simPoint struct {
	start int64
	value int64
}

type simSeries struct {
	metric, urlMap, continent, cache, class string
	points                                  []simPoint // newest first, as Monitoring answers
}

func (ts simSeries) json(pts []simPoint) map[string]any {
	jp := make([]map[string]any, len(pts))
	for i, p := range pts {
		jp[i] = map[string]any{
			"interval": map[string]string{
				"startTime": time.Unix(p.start, 0).UTC().Format(time.RFC3339),
				"endTime":   time.Unix(p.start+step, 0).UTC().Format(time.RFC3339),
			},
			"value": map[string]string{"int64Value": strconv.FormatInt(p.value, 10)},
		}
	}
	return map[string]any{
		"metric": map[string]any{"type": ts.metric, "labels": map[string]string{
			labelCacheResult: ts.cache, labelResponseClass: ts.class, labelContinent: ts.continent}},
		"resource":   map[string]any{"type": resourceType, "labels": map[string]string{"project_id": Project, labelURLMap: ts.urlMap}},
		"metricKind": "DELTA",
		"valueType":  "INT64",
		"points":     jp,
	}
}

// series builds the answer's series for q: one per url map, continent,
// cache result and status class with a non-zero point in the window, in a
// stable order; only whole minutes published before now - Lag.
func (s *stand) series(q Query) []simSeries {
	m := s.sim.Model
	last := s.now().Add(-Lag).Unix()
	type key struct{ urlMap, continent, cache, class string }
	idx := map[key]int{}
	var out []simSeries
	for si, svc := range m.Services {
		um := URLMap(svc)
		if q.URLMaps != nil && !contains(q.URLMaps, um) {
			continue
		}
		for t := ceilMinute(q.Start); t < q.End.Unix() && t+step <= last; t += step {
			for _, cont := range continentsOf(m) {
				smp := sumContinent(m, si, cont, t)
				if smp.Requests == 0 {
					continue
				}
				for _, c := range Cells(smp) {
					v := c.Value(q.Metric)
					if v == 0 {
						continue // Monitoring has no point for a group without traffic
					}
					k := key{um, cont, c.Cache, c.Class}
					i, ok := idx[k]
					if !ok {
						i = len(out)
						idx[k] = i
						out = append(out, simSeries{metric: q.Metric, urlMap: um, continent: cont, cache: c.Cache, class: c.Class})
					}
					out[i].points = append(out[i].points, simPoint{start: t, value: v})
				}
			}
		}
	}
	for i := range out {
		sort.Slice(out[i].points, func(a, b int) bool { return out[i].points[a].start > out[i].points[b].start })
	}
	return out
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// Cell is one group of a continent-minute: the requests with one cache
// result and status class, and their bytes.
type Cell struct {
	Cache, Class string
	Requests     int64
	// EdgeBytes are sent to clients; BackendBytes came to the proxy from
	// the backend, or for HIT from the cache.
	EdgeBytes, BackendBytes int64
}

// Value is the cell's value of metric: every request is a backend
// request too, as Google abstracts cache hits as backend requests
// labelled HIT.
func (c Cell) Value(metric string) int64 {
	switch metric {
	case RequestCount, BackendRequests:
		return c.Requests
	case ResponseBytes:
		return c.EdgeBytes
	case BackendRespBytes:
		return c.BackendBytes
	}
	return 0
}

// Cells splits one continent-minute over cache result × status class
// (north-west corner fill of the two marginals); edge bytes split by
// request count; origin bytes over the MISS and DISABLED cells, the hit
// cells' backend bytes being their edge bytes (what the cache returned).
func Cells(s traffic.Sample) []Cell {
	caches := []struct {
		name string
		n    int64
	}{{"HIT", s.Hits}, {"MISS", s.Misses}, {"DISABLED", s.Passes}}
	classes := []struct {
		name string
		n    int64
	}{{"200", s.Status2xx}, {"300", s.Status3xx}, {"400", s.Status4xx}, {"500", s.Status5xx}}
	var cells []Cell
	i, j := 0, 0
	for i < len(caches) && j < len(classes) {
		n := min(caches[i].n, classes[j].n)
		if n > 0 {
			cells = append(cells, Cell{Cache: caches[i].name, Class: classes[j].name, Requests: n})
		}
		caches[i].n -= n
		classes[j].n -= n
		if caches[i].n == 0 {
			i++
		}
		if j < len(classes) && classes[j].n == 0 {
			j++
		}
	}
	split(cells, s.EdgeBytes(), s.Requests, func(Cell) bool { return true }, func(c *Cell, v int64) { c.EdgeBytes = v })
	split(cells, s.OriginBytes(), s.OriginFetches, func(c Cell) bool { return c.Cache != "HIT" }, func(c *Cell, v int64) { c.BackendBytes = v })
	for k := range cells {
		if cells[k].Cache == "HIT" {
			cells[k].BackendBytes = cells[k].EdgeBytes
		}
	}
	return cells
}

// split shares total over the cells that pick selects, by request count
// (of count in all), the last one taking the rest.
func split(cells []Cell, total, count int64, pick func(Cell) bool, set func(*Cell, int64)) {
	var idx []int
	for k, c := range cells {
		if pick(c) {
			idx = append(idx, k)
		}
	}
	left := total
	for n, k := range idx {
		if n == len(idx)-1 {
			set(&cells[k], left)
			break
		}
		v := total * cells[k].Requests / max(count, 1)
		set(&cells[k], v)
		left -= v
	}
}
