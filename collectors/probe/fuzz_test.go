package probe

import (
	"net/http"
	"testing"
)

// FuzzHeaders feeds arbitrary cache and POP header values to the readers:
// no panic, and a POP is always a short code that cannot change a path.
func FuzzHeaders(f *testing.F) {
	f.Add("MISS, HIT", "cache-iad2120-IAD, cache-lhr7324-LHR", "HIT", "8a1b2c3d4e5f6789-LHR", "LHR62-C1", "EXPIRED")
	f.Add("TCP_HIT from a23-62-44-186.deploy.akamaitechnologies.com (AkamaiGHost/10.6.0.1-31347234) (-)", "", "", "", "", "")
	f.Add("Hit from cloudfront", "", "", "", "FRA56-P2", "")
	f.Add(",", "cache-", "", "-", "123", " ")
	f.Fuzz(func(t *testing.T, xcache, servedBy, cfStatus, cfRay, cfPop, xcs string) {
		h := http.Header{}
		h["X-Cache"] = []string{xcache}
		h["X-Served-By"] = []string{servedBy}
		h["Cf-Cache-Status"] = []string{cfStatus}
		h["Cf-Ray"] = []string{cfRay}
		h["X-Amz-Cf-Pop"] = []string{cfPop}
		h["X-Cache-Status"] = []string{xcs}
		hit, known := cacheVerdict(h)
		if hit && !known {
			t.Fatal("hit without a known verdict")
		}
		p := popOf(h)
		if p != "" && (len(p) < 2 || len(p) > 8) {
			t.Fatalf("pop %q", p)
		}
		for i := 0; i < len(p); i++ {
			c := p[i]
			if !(('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')) {
				t.Fatalf("pop %q", p)
			}
		}
	})
}
