package cloudflare

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"testing"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/collectors/collectorstest"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
	"github.com/cdnmetrics/cdnmetrics/internal/state"
)

// statePaths is the program's PathNamer without its logging.
type statePaths struct{ p *state.Paths }

func (s statePaths) PathNames(provider string, refs []collectors.ServiceRef) []string {
	ids, names := make([]string, len(refs)), make([]string, len(refs))
	for i, r := range refs {
		ids[i], names[i] = r.ID, r.Name
	}
	out, _, _ := s.p.Assign(provider, ids, names)
	return out
}

// Two discovered zones whose names give one path node write two series:
// the lowest id keeps the plain name, the other gets its id appended.
func TestDiscoveredZonesSharingAPathAreKeptApart(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case zonesPath:
			fmt.Fprint(w, `{"success":true,"errors":[],"messages":[],"result":[{"id":"z2","name":"shop.example","status":"active"},{"id":"z1","name":"SHOP.example","status":"active"}],"result_info":{"page":1,"per_page":50,"total_pages":1,"count":2,"total_count":2}}`)
		case graphqlPath:
			w.Write(collectorstest.ReadTestdata(t, "graphql-httpRequests1mGroups-response.json"))
		}
	}))
	defer srv.Close()
	c, _ := newTest(t, srv.URL, nil, false)
	c.account = "acc1"
	p, err := state.OpenPaths("", false, schema.Sanitize)
	if err != nil {
		t.Fatal(err)
	}
	c.env.Paths = statePaths{p}
	rec := &recorder{}
	if err := c.Collect(context.Background(), sampleWindow(t), rec); err != nil {
		t.Fatal(err)
	}
	nodes := map[string]bool{}
	for _, r := range rec.Records() {
		nodes[schema.Sanitize(r.Service)] = true
	}
	var got []string
	for n := range nodes {
		got = append(got, n)
	}
	sort.Strings(got)
	if fmt.Sprint(got) != "[shop_example shop_example_z2]" {
		t.Fatalf("path nodes %v, want [shop_example shop_example_z2]", got)
	}
}
