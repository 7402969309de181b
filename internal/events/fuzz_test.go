package events

import (
	"testing"
	"time"
)

// FuzzParseWhen: never panics; an accepted time round-trips through its
// Unix seconds.
func FuzzParseWhen(f *testing.F) {
	for _, s := range []string{"1795381779", "1795381779.9", "2026-11-20T10:00:00+01:00", "-1", "1e15", "NaN", " 12 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseWhen(s)
		if err != nil {
			return
		}
		if back := time.Unix(got.Unix(), 0); back.Unix() != got.Unix() {
			t.Fatalf("%q -> %v does not round-trip", s, got)
		}
	})
}
