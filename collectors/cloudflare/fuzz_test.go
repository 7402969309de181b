package cloudflare

import (
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors/collectorstest"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// FuzzParseAnswer feeds arbitrary bodies through the whole answer path:
// envelope, both row mappers and the zone list. Nothing may panic, and no
// record may leave the window or carry a negative count.
func FuzzParseAnswer(f *testing.F) {
	for _, name := range []string{
		"graphql-httpRequests1mGroups-response.json",
		"graphql-error-in-200.json",
		"graphql-httpRequestsAdaptiveGroups-colo-response.json",
		"graphql-httpRequests1mByColoGroups-response.json",
	} {
		f.Add(collectorstest.ReadTestdata(f, name))
	}
	f.Add([]byte(`{"data":{"viewer":{"zones":[{"httpRequestsAdaptiveGroups":[{"avg":{"sampleInterval":1},"count":1840,"dimensions":{"cacheStatus":"hit","coloCode":"AMS","datetimeMinute":"2019-09-08T20:00:00Z","edgeResponseStatus":200},"sum":{"edgeResponseBytes":73600512}}]}]}},"errors":null}`))
	f.Add([]byte(`{"success":true,"errors":[],"result":[{"id":"z","name":"n"}],"result_info":{"page":1,"total_pages":1}}`))
	start := time.Date(2019, 9, 8, 20, 0, 0, 0, time.UTC)
	end := start.Add(time.Hour)
	f.Fuzz(func(t *testing.T, body []byte) {
		_, _, _ = parseZoneList(body)
		a, err := parseAnswer(body)
		if err != nil {
			return
		}
		for _, e := range a.errs {
			_ = e.where()
			_ = e.node()
		}
		recs, _, _, _ := mapTotals("z", a.totals, start, end)
		colos, _, _, _ := mapColos("z", a.colos, start, end)
		for _, r := range append(recs, colos...) {
			if r.Start < start.Unix() || r.Start >= end.Unix() {
				t.Fatalf("record at %d outside the window", r.Start)
			}
			if r.Step != step || r.Service != "z" {
				t.Fatalf("record %+v has the wrong step or service", r)
			}
			r.Check() // what the pipeline's value check keeps
			for _, fl := range schema.Fields() {
				if v, ok := r.Get(fl); ok && v < 0 {
					t.Fatalf("negative %v = %v", fl, v)
				}
			}
		}
	})
}
