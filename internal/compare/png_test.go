package compare

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
)

// The image starts where the data starts and always has a legend. The
// synthetic counts' first point is at 100 (fastly, cloudflare and akamai
// all start there) while the window opens at 50: an image from 50 would
// be a third empty. A later first point moves the start; a window that
// starts after the data keeps its own start.
func TestPNGStartsWhereTheDataStartsWithALegend(t *testing.T) {
	f := &fake{find: findThree, counts: countsThree, probes: probesThree}
	var pngQuery url.Values
	inner := f.server(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("format") == "png" {
			pngQuery = r.URL.Query()
			_, _ = w.Write([]byte("\x89PNG fake"))
			return
		}
		inner.Config.Handler.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)

	for _, c := range []struct {
		from     int64
		wantFrom string
	}{{50, "100"}, {105, "105"}} {
		o := testOptions(srv.URL)
		o.From = time.Unix(c.from, 0)
		r, err := Run(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		pngQuery = nil
		if _, err := PNG(context.Background(), o, r); err != nil {
			t.Fatal(err)
		}
		if got := pngQuery.Get("from"); got != c.wantFrom {
			t.Errorf("window from %d: image from=%s, want %s", c.from, got, c.wantFrom)
		}
		if got := pngQuery.Get("until"); got != "200" {
			t.Errorf("image until=%s, want the window's 200", got)
		}
		if got := pngQuery.Get("hideLegend"); got != "false" {
			t.Errorf("hideLegend=%q, want false (graphite-web hides the legend above 10 series)", got)
		}
	}
}
