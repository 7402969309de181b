package hook

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzGeneric feeds arbitrary bodies to the generic parser: it must never
// panic, and an accepted event must respect the limits.
func FuzzGeneric(f *testing.F) {
	for _, s := range []string{`{}`, `{"what":"deploy","tags":"a b","when":1795381779,"id":"x"}`,
		`{"tags":["a","b c"],"when":"2026-11-20T10:00:00Z","delivery_id":5}`, `{"when":1e400}`, `{"when":"NaN"}`, `[]`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, id, err := fromGeneric(body, now)
		if err != nil {
			return
		}
		checkEvent(t, ev.What, ev.Tags, ev.Data)
		if ev.When.Before(minWhen) || ev.When.After(now.Add(maxFuture)) {
			t.Fatalf("when %v out of range", ev.When)
		}
		_ = checkID(id)
	})
}

// FuzzGitHub feeds arbitrary payloads under each handled event type.
func FuzzGitHub(f *testing.F) {
	files, _ := filepath.Glob("testdata/github-*.json")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(0), b)
		f.Add(uint8(1), b)
		f.Add(uint8(2), b)
	}
	kinds := []string{"deployment", "deployment_status", "push", "ping"}
	f.Fuzz(func(t *testing.T, k uint8, body []byte) {
		ev, ignore, err := fromGitHub(kinds[int(k)%len(kinds)], body, now)
		if err != nil || ignore != "" {
			return
		}
		checkEvent(t, ev.What, ev.Tags, ev.Data)
	})
}

func checkEvent(t *testing.T, what string, tags []string, data string) {
	t.Helper()
	if what == "" || len(what) > maxWhat || len(tags) == 0 || len(tags) > maxTags || len(data) > maxData {
		t.Fatalf("accepted event outside limits: what %q tags %d data %d", what, len(tags), len(data))
	}
	for _, tag := range tags {
		if tag == "" || strings.ContainsAny(tag, " \t\n") || !utf8.ValidString(tag) {
			t.Fatalf("bad tag %q", tag)
		}
	}
}
