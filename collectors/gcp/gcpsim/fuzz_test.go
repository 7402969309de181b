package gcpsim

import (
	"crypto/rand"
	"crypto/rsa"
	"net/url"
	"testing"
	"time"
)

// FuzzParseQuery feeds arbitrary query strings to the stand-in's
// timeSeries.list parser, which faces whatever a client sends the
// simulator: nothing may panic, and what it accepts is a served metric
// over a forward interval with a positive page size.
func FuzzParseQuery(f *testing.F) {
	f.Add("filter=metric.type+%3D+%22loadbalancing.googleapis.com%2Fhttps%2Frequest_count%22+AND+resource.type+%3D+%22https_lb_rule%22&interval.startTime=2025-01-15T10%3A00%3A00Z&interval.endTime=2025-01-15T10%3A03%3A00Z&aggregation.alignmentPeriod=60s&aggregation.perSeriesAligner=ALIGN_DELTA&aggregation.crossSeriesReducer=REDUCE_SUM&aggregation.groupByFields=resource.labels.url_map_name&aggregation.groupByFields=metric.labels.cache_result&aggregation.groupByFields=metric.labels.response_code_class&aggregation.groupByFields=metric.labels.proxy_continent&pageSize=10&pageToken=pt-5")
	f.Add("filter=metric.type%3D%22x%22&pageSize=-1")
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := ParseQuery(v)
		if err != nil {
			return
		}
		if !q.Start.Before(q.End) || q.PageSize <= 0 || q.PageSize > 100000 {
			t.Fatalf("accepted %+v", q)
		}
		switch q.Metric {
		case RequestCount, ResponseBytes, BackendRequests, BackendRespBytes:
		default:
			t.Fatalf("accepted metric %q", q.Metric)
		}
	})
}

// FuzzVerifyAssertion: no assertion not signed by the key passes.
func FuzzVerifyAssertion(f *testing.F) {
	key, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		f.Fatal(err)
	}
	f.Add("eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJhIn0.c2ln")
	f.Add("a.b.c")
	f.Add("...")
	f.Fuzz(func(t *testing.T, a string) {
		if _, err := VerifyAssertion(a, &key.PublicKey, time.Now()); err == nil {
			t.Fatalf("accepted %q", a)
		}
	})
}
