package compare

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDecodeRender(t *testing.T) {
	body := `[{"target": "a", "tags": {"name": "a"}, "datapoints": [[1.5, 100], [null, 110], [1e9999, 120], [-1e9999, 130], [1e-9999, 140], [7, 1.5e2]]},
	          {"target": "b", "datapoints": []}]`
	ss, err := DecodeRender([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 2 || ss[0].Target != "a" || len(ss[0].Points) != 6 || len(ss[1].Points) != 0 {
		t.Fatalf("got %+v", ss)
	}
	p := ss[0].Points
	if p[0].Value != 1.5 || p[0].Time != 100 || p[0].Null {
		t.Errorf("p0 %+v", p[0])
	}
	if !p[1].Null || p[1].Time != 110 {
		t.Errorf("p1 %+v", p[1])
	}
	if !math.IsInf(p[2].Value, 1) || !math.IsInf(p[3].Value, -1) {
		t.Errorf("inf %+v %+v", p[2], p[3])
	}
	if p[4].Value != 0 || p[5].Time != 150 {
		t.Errorf("underflow/float ts %+v %+v", p[4], p[5])
	}
	if ss, err := DecodeRender([]byte(" [] \n")); err != nil || len(ss) != 0 {
		t.Errorf("empty: %v %v", ss, err)
	}

	for name, bad := range map[string]string{
		"html":           "<!DOCTYPE html><html><title>Server Error</title></html>",
		"empty":          "",
		"object":         `{"error": "x"}`,
		"truncated":      `[{"target": "a", "datapoints": [[1, 100]`,
		"string value":   `[{"target": "a", "datapoints": [["1", 100]]}]`,
		"bool value":     `[{"target": "a", "datapoints": [[true, 100]]}]`,
		"one element":    `[{"target": "a", "datapoints": [[1]]}]`,
		"three":          `[{"target": "a", "datapoints": [[1, 2, 3]]}]`,
		"null ts":        `[{"target": "a", "datapoints": [[1, null]]}]`,
		"inf ts":         `[{"target": "a", "datapoints": [[1, 1e9999]]}]`,
		"fraction ts":    `[{"target": "a", "datapoints": [[1, 100.5]]}]`,
		"not a pair":     `[{"target": "a", "datapoints": [7]}]`,
		"datapoints obj": `[{"target": "a", "datapoints": {}}]`,
	} {
		if _, err := DecodeRender([]byte(bad)); err == nil {
			t.Errorf("%s: accepted %q", name, bad)
		}
	}
}

func FuzzDecodeRender(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.json")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`[{"target": "a", "datapoints": [[1e9999, 1], [null, 2], [-1e9999, 3]]}]`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`<html>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ss, err := DecodeRender(b)
		if err != nil {
			if ss != nil {
				t.Fatal("series with an error")
			}
			return
		}
		for _, s := range ss {
			for _, p := range s.Points {
				// JSON has no NaN: a decoded value is a number or a gap.
				if math.IsNaN(p.Value) || (p.Null && p.Value != 0) {
					t.Fatalf("point %+v from %q", p, b)
				}
			}
		}
		// A successful decode is a JSON array.
		if !strings.HasPrefix(strings.TrimSpace(string(b)), "[") {
			t.Fatalf("accepted non-array %q", b)
		}
	})
}

func TestFindDemo(t *testing.T) {
	body, err := os.ReadFile("testdata/find-demo.json")
	if err != nil {
		t.Fatal(err)
	}
	f := &fake{find: string(body)}
	srv := f.server(t)
	c, err := newClient(Options{WebURL: srv.URL + "/"})
	if err != nil {
		t.Fatal(err)
	}
	names, err := c.find(t.Context(), "cdn.*")
	if err != nil {
		t.Fatal(err)
	}
	// Recorded from the demo's graphite-web: every node is expandable.
	if got := strings.Join(names, ","); got != "akamai,cdnmetrics,cloudflare,cloudfront,events,fastly" {
		t.Errorf("find = %s", got)
	}
}
