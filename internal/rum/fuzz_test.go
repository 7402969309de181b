package rum

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// FuzzBeacon feeds any body to the beacon and NEL parsers and the
// aggregator: nothing panics, at most max entries are taken, and every
// gauge stays within the bounded dimensions (allow-listed provider or
// other, allow-listed service or other, rum or rum_<assigned country>).
// Seeds in testdata/fuzz/FuzzBeacon.
func FuzzBeacon(f *testing.F) {
	f.Add([]byte(`{"provider":"fastly","pop":"LHR","cache":"HIT","ttfb_ms":20,"size":1000,"download_ms":8}`), "GB")
	f.Add([]byte(`[{"provider":"cloudfront","pop":"PHX50-C2","cache":"MISS","ttfb_ms":40,"tls_ms":1e308}]`), "")
	f.Add([]byte(`[{"type":"network-error","url":"https://img.example.com/","body":{"type":"tcp.reset"}}]`), "fr")
	f.Fuzz(func(t *testing.T, body []byte, cc string) {
		const max = 5
		entries, extra, bad, err := parseBeacon(body, max)
		if err == nil && (len(entries) > max || extra < 0 || bad < 0 || len(entries)+bad > max) {
			t.Fatalf("entries %d extra %d bad %d", len(entries), extra, bad)
		}
		hosts, _, _, _ := parseNEL(body, max)
		if len(hosts) > max {
			t.Fatalf("%d NEL hosts > %d", len(hosts), max)
		}
		a := NewAggregator([]string{"fastly"}, []string{"www"}, 2, quietCounters())
		t0 := time.Unix(1700000040, 0)
		code := country(cc)
		for _, e := range entries {
			a.Add(e, code, t0)
		}
		for range hosts {
			a.AddError("fastly", code, t0)
		}
		if n := len(a.POPs("fastly")); n > 2 {
			t.Fatalf("%d POPs kept, cap 2", n)
		}
		for _, g := range a.Flush(t0, true) {
			okLoc := g.Location == "rum" || (strings.HasPrefix(g.Location, "rum_") && country(g.Location[4:]) == g.Location[4:])
			if g.Provider != "fastly" && g.Provider != Other || g.Service != "www" && g.Service != Other || !okLoc {
				t.Fatalf("unbounded gauge %+v", g)
			}
		}
		// The handler answers every body without echoing it.
		h, _ := newTestHandler(t, testConfig())
		for _, ct := range []string{"text/plain", "application/reports+json"} {
			if w := post(h, string(body), ct, page, "CF-IPCountry", cc); w.Body.Len() != 0 || w.Code == http.StatusInternalServerError {
				t.Fatalf("%s: %d %q", ct, w.Code, w.Body.String())
			}
		}
	})
}
