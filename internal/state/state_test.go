package state

import (
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCheckpointRoundTrip(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Get("fastly"); ok || err != nil {
		t.Fatalf("fresh store: ok=%v err=%v, want no checkpoint", ok, err)
	}
	end := time.Unix(1700000040, 0).UTC()
	if err := s.Set("fastly", Checkpoint{End: end, Updated: end}); err != nil {
		t.Fatal(err)
	}
	cp, ok, err := s.Get("fastly")
	if !ok || err != nil || !cp.End.Equal(end) {
		t.Fatalf("Get = %v %v %v, want %v", cp, ok, err, end)
	}
	// No temp files left behind.
	entries, _ := os.ReadDir(s.dir)
	if len(entries) != 1 {
		t.Fatalf("dir holds %d entries, want only the checkpoint", len(entries))
	}
}

func TestCorruptCheckpointIsAnErrorNamingTheFile(t *testing.T) {
	s, _ := Open(t.TempDir())
	if err := os.WriteFile(filepath.Join(s.dir, "akamai.json"), []byte("{\"end\":"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := s.Get("akamai")
	if err == nil || !strings.Contains(err.Error(), "akamai.json") {
		t.Fatalf("err = %v, want one naming akamai.json", err)
	}
}

// fileName keeps schema.Sanitize's rule (checkpoint files keep their names
// across the move of the rule into state): compared on awkward names.
func TestFileNameIsSanitize(t *testing.T) {
	for _, s := range []string{"", "fastly", "Cloud.Front", "a b/c", "ÄÖ", "x-y_z9", "WWW_PROD"} {
		if got, want := fileName(s), schema.Sanitize(s); got != want {
			t.Errorf("fileName(%q) = %q, schema.Sanitize = %q", s, got, want)
		}
	}
}
