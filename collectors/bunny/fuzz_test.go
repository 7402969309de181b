package bunny

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// FuzzParseStats feeds arbitrary bodies to the statistics parser and the
// mapping: no panic, and every record it keeps is a whole hour inside the
// window with counts a count can be.
func FuzzParseStats(f *testing.F) {
	for _, name := range []string{"statistics-hourly-response.constructed.json", "statistics-3day-response.json"} {
		if b, err := os.ReadFile(filepath.Join("testdata", name)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"RequestsServedChart": {"2025-01-15T10:00:00": 1.5e3, "2025-01-15T11:00:00+01:00": "7"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		st, err := parseStats(body)
		if err != nil {
			return
		}
		start := time.Unix(t10, 0)
		recs, _, _, _, _ := mapStats("z", st, start, start.Add(24*time.Hour), start.Add(24*time.Hour))
		for _, r := range recs {
			if r.Start%bucket != 0 || r.Start < t10 || r.Start >= t10+24*3600 {
				t.Fatalf("record at %d", r.Start)
			}
			for _, fl := range schema.Fields() {
				if v, ok := r.Get(fl); ok && (v < 0 || v > schema.MaxCount || v != v) {
					t.Fatalf("%s = %v", fl, v)
				}
			}
		}
	})
}

// FuzzParseTimeKey: a key either fails or gives a time that formats back
// to the same instant.
func FuzzParseTimeKey(f *testing.F) {
	for _, s := range []string{"2019-05-01T00:00:00Z", "2019-05-01T00:37:25", "2025-01-15T10:00:00.000+02:00", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := parseTimeKey(s)
		if err != nil {
			return
		}
		back, err := parseTimeKey(tm.Format(time.RFC3339Nano))
		if err != nil || !back.Equal(tm) {
			t.Fatalf("%q → %v → %v, %v", s, tm, back, err)
		}
	})
}

// FuzzParseZoneList: the pull zone list parser never panics and keeps
// only zones with a positive id.
func FuzzParseZoneList(f *testing.F) {
	f.Add([]byte(`{"Items":[{"Id":65109,"Name":"img"}],"HasMoreItems":false}`))
	f.Add([]byte(`[{"Id":1,"Name":"a"},{"Name":"b"}]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		zs, _, _, err := parseZoneList(body)
		if err != nil {
			return
		}
		for _, z := range zs {
			if z.ID <= 0 {
				t.Fatalf("zone %+v", z)
			}
		}
	})
}
