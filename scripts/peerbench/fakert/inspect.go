package main

// Origin Inspector and Domain Inspector real-time feeds:
//
//	rt.fastly.com   GET /v1/origins/{service_id}/ts/{ts}
//	                GET /v1/domains/{service_id}/ts/{ts}
//	api.fastly.com  GET /entitled-products/{origin_inspector|domain_inspector}
//
// Shaped as Fastly documents them (and fastly-exporter's pkg/origin and
// pkg/domain read them): {"Data":[{"datacenter":{POP:{NAME:{stats}}},
// "aggregated":{NAME:{stats}},"recorded":N}],"Timestamp":N+1,
// "AggregateDelay":N}. Zero-valued fields are omitted, as in the channel
// feed. The entitlement answer says has_access = -inspectors, so the same
// fakert serves a run with and a run without the products.

import (
	"bytes"
	"flag"
	"fmt"
	mrand "math/rand"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

var (
	inspectors = flag.Bool("inspectors", false, "entitlement API answers has_access=true for origin_inspector and domain_inspector")
	nOrigins   = flag.Int("origins", 4, "origins (backends) per service in /v1/origins payloads")
	nDomains   = flag.Int("domains", 4, "domains per service in /v1/domains payloads")
)

var (
	rtOrigins      atomic.Int64
	rtDomains      atomic.Int64
	originVariants [][]byte // up to `"recorded":`
	domainVariants [][]byte
	avgOriginBytes int
	avgDomainBytes int
)

var latencyKeys = []string{"latency_0_to_1ms", "latency_1_to_5ms", "latency_5_to_10ms", "latency_10_to_50ms",
	"latency_50_to_100ms", "latency_100_to_250ms", "latency_250_to_500ms", "latency_500_to_1000ms",
	"latency_1000_to_5000ms", "latency_5000_to_10000ms", "latency_10000_to_60000ms", "latency_60000ms"}
var latencyWeights = []float64{0.5, 2, 4, 20, 30, 25, 10, 5, 2, 0.5, 0.2, 0.05}

// spread distributes n over weights (largest remainder), so the parts add
// up to n exactly.
func spread(n uint64, w []float64) []uint64 {
	var sum float64
	for _, x := range w {
		sum += x
	}
	out := make([]uint64, len(w))
	var given uint64
	for i, x := range w {
		out[i] = uint64(float64(n) * x / sum)
		given += out[i]
	}
	for i := 0; given < n; i = (i + 1) % len(w) {
		out[i]++
		given++
	}
	return out
}

type kv struct {
	k string
	v string
}

func writeObj(b *bytes.Buffer, kvs []kv) {
	b.WriteByte('{')
	n := 0
	for _, x := range kvs {
		if x.v == "0" {
			continue // Fastly omits zero-valued fields
		}
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		b.WriteString(`"` + x.k + `":` + x.v)
	}
	b.WriteByte('}')
}

func u(x uint64) string { return strconv.FormatUint(x, 10) }

func originStats(rng *mrand.Rand, r uint64) []kv {
	s2, s3, s4 := frac(r, 0.90), frac(r, 0.05), frac(r, 0.03)
	if s2+s3+s4 > r {
		s4 = 0
	}
	s5 := r - s2 - s3 - s4
	hb, bb := uint64(300+rng.Intn(100)), uint64(5000+rng.Intn(40000))
	kvs := []kv{{"responses", u(r)}, {"resp_header_bytes", u(r * hb)}, {"resp_body_bytes", u(r * bb)},
		{"status_2xx", u(s2)}, {"status_200", u(s2)}, {"status_3xx", u(s3)}, {"status_304", u(s3)},
		{"status_4xx", u(s4)}, {"status_404", u(s4)}, {"status_5xx", u(s5)}, {"status_503", u(s5)}}
	for i, c := range spread(r, latencyWeights) {
		kvs = append(kvs, kv{latencyKeys[i], u(c)})
	}
	return kvs
}

func domainStats(rng *mrand.Rand, r uint64) []kv {
	h := frac(r, 0.88)
	m := frac(r, 0.08)
	of := r - h
	hb, bb := uint64(380+rng.Intn(80)), uint64(8000+rng.Intn(24000))
	s2, s3 := frac(r, 0.95), frac(r, 0.03)
	s4 := r - s2 - s3
	return []kv{{"requests", u(r)}, {"resp_header_bytes", u(r * hb)}, {"resp_body_bytes", u(r * bb)},
		{"edge_requests", u(r)}, {"edge_resp_header_bytes", u(r * hb)}, {"edge_resp_body_bytes", u(r * bb)},
		{"edge_hit_requests", u(h)}, {"edge_miss_requests", u(m)},
		{"edge_hit_ratio", strconv.FormatFloat(float64(h)/float64(max(h+m, 1)), 'f', 6, 64)},
		{"origin_fetches", u(of)}, {"origin_fetch_resp_header_bytes", u(of * hb)}, {"origin_fetch_resp_body_bytes", u(of * bb)},
		{"bereq_header_bytes", u(of * 510)}, {"bandwidth", u(r*(hb+bb) + of*510)},
		{"origin_offload", strconv.FormatFloat(0.9, 'f', 6, 64)},
		{"status_2xx", u(s2)}, {"status_200", u(s2)}, {"status_3xx", u(s3)}, {"status_304", u(s3)},
		{"status_4xx", u(s4)}, {"status_404", u(s4)},
		{"origin_status_2xx", u(of)}, {"origin_status_200", u(of)}}
}

// addInto sums the numeric values of kvs into agg (floats are kept as the
// last seen: the aggregate of a ratio is not a sum).
func addInto(agg map[string]string, kvs []kv) {
	for _, x := range kvs {
		a, err1 := strconv.ParseUint(agg[x.k], 10, 64)
		b, err2 := strconv.ParseUint(x.v, 10, 64)
		if err2 != nil {
			agg[x.k] = x.v
			continue
		}
		if err1 != nil {
			a = 0
		}
		agg[x.k] = u(a + b)
	}
}

func sortedKV(m map[string]string) []kv {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]kv, 0, len(keys))
	for _, k := range keys {
		out = append(out, kv{k, m[k]})
	}
	return out
}

// buildInspectorFixtures pre-renders the inspector payload variants.
func buildInspectorFixtures() {
	rng := mrand.New(mrand.NewSource(*seed + 11))
	names := func(n int, f string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf(f, i)
		}
		return out
	}
	origins := names(*nOrigins, "origin-%d.example.com")
	domains := names(*nDomains, "www%d.example.com")
	build := func(names []string, stats func(*mrand.Rand, uint64) []kv) ([][]byte, int) {
		var vs [][]byte
		total := 0
		for v := 0; v < *nVariants; v++ {
			var b bytes.Buffer
			agg := map[string]map[string]string{}
			b.WriteString(`{"Data":[{"datacenter":{`)
			for i, pop := range pops {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteString(`"` + pop + `":{`)
				for j, n := range names {
					if j > 0 {
						b.WriteByte(',')
					}
					r := uint64(*rps*(0.3+1.4*rng.Float64())/float64(len(names)) + 1)
					kvs := stats(rng, r)
					b.WriteString(`"` + n + `":`)
					writeObj(&b, kvs)
					if agg[n] == nil {
						agg[n] = map[string]string{}
					}
					addInto(agg[n], kvs)
				}
				b.WriteByte('}')
			}
			b.WriteString(`},"aggregated":{`)
			for j, n := range names {
				if j > 0 {
					b.WriteByte(',')
				}
				b.WriteString(`"` + n + `":`)
				writeObj(&b, sortedKV(agg[n]))
			}
			b.WriteString(`},"recorded":`)
			vs = append(vs, b.Bytes())
			total += b.Len()
		}
		return vs, total / max(*nVariants, 1)
	}
	originVariants, avgOriginBytes = build(origins, originStats)
	domainVariants, avgDomainBytes = build(domains, domainStats)
}

// serveInspector answers /v1/{origins|domains}/{sid}/ts/{ts} like serveRT
// answers the channel: one second per response, Timestamp = recorded + 1.
func serveInspector(w http.ResponseWriter, r *http.Request, feed string) {
	st.RTInflight.Add(1)
	defer st.RTInflight.Add(-1)
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/v1/"+feed+"/"), "/")
	if len(parts) != 3 || parts[1] != "ts" {
		writeJSON(w, 400, map[string]any{"Error": "bad path"})
		return
	}
	sidx, ok := serviceIdx[parts[0]]
	if !ok {
		writeJSON(w, 404, map[string]any{"Error": "unknown service"})
		return
	}
	if !*inspectors {
		writeJSON(w, 403, map[string]any{"Error": "product not enabled"})
		return
	}
	ts, err := strconv.ParseUint(parts[2], 10, 64)
	if err != nil {
		writeJSON(w, 400, map[string]any{"Error": "bad ts"})
		return
	}
	if ts == 0 {
		ts = baseTS
	}
	if *delay > 0 {
		t := time.NewTimer(*delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	vs := originVariants
	if feed == "domains" {
		vs = domainVariants
	}
	v := vs[(uint64(sidx)+ts)%uint64(len(vs))]
	tail := []byte(strconv.FormatUint(ts, 10) + `}],"Timestamp":` + strconv.FormatUint(ts+1, 10) + `,"AggregateDelay":` + strconv.Itoa(5+int(ts%4)) + `}`)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(v)+len(tail)))
	w.WriteHeader(200)
	n1, _ := w.Write(v)
	n2, _ := w.Write(tail)
	if r.ProtoMajor == 2 {
		st.RTProtoH2.Add(1)
	} else {
		st.RTProtoH1.Add(1)
	}
	st.RTBytes.Add(int64(n1 + n2))
	st.RTResponses.Add(1)
	if feed == "domains" {
		rtDomains.Add(1)
	} else {
		rtOrigins.Add(1)
	}
}
