package collectorstest

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// Flatten renders records as sorted "provider service location start/step
// field=value…" lines, fields in schema order, so that a test compares a
// collector's records with hand-computed lines and a failure shows a
// readable diff.
func Flatten(recs []schema.Record) []string {
	var out []string
	for _, r := range recs {
		var fs []string
		for _, f := range schema.Fields() {
			if v, ok := r.Get(f); ok {
				fs = append(fs, fmt.Sprintf("%s=%v", f, v))
			}
		}
		out = append(out, fmt.Sprintf("%s %s %s %d/%d %s", r.Provider, r.Service, r.Location, r.Start, r.Step, strings.Join(fs, " ")))
	}
	sort.Strings(out)
	return out
}

// DiffLines fails t, showing both lists, when got and want (Flatten's
// lines) differ.
func DiffLines(t testing.TB, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("records differ\n got:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// ReadTestdata returns the file name below the test's testdata directory
// (vendor samples are copied there from ../shared/api-samples).
func ReadTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// MustTime parses an RFC 3339 time, failing t when it cannot.
func MustTime(t testing.TB, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}
