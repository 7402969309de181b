package simulate_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/cdnmetrics/cdnmetrics/"

// imports returns the imports of the non-test Go files in dir.
func imports(t *testing.T, dir string) map[string]bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range af.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			got[p] = true
		}
	}
	return got
}

// Simulation stays beside the vendors, never inside them: the contract and
// the collectors know nothing of the traffic model or the simulator, and a
// simulation package does not import its collector (so its Expect cannot
// borrow the mapping it is there to check).
func TestSimulationStaysOutOfTheCollectors(t *testing.T) {
	root := filepath.Join("..", "..", "collectors")
	for p := range imports(t, root) {
		if p == module+"internal/traffic" || p == module+"internal/simulate" {
			t.Errorf("collectors imports %s", p)
		}
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	sims := 0
	for _, e := range entries {
		// collectorstest helps tests run collectors against stand-ins;
		// all links the collectors. Neither is a vendor.
		if !e.IsDir() || e.Name() == "collectorstest" || e.Name() == "all" {
			continue
		}
		vendor := e.Name()
		for p := range imports(t, filepath.Join(root, vendor)) {
			if p == module+"internal/traffic" || p == module+"internal/simulate" || strings.HasPrefix(p, module+"collectors/"+vendor+"/") {
				t.Errorf("collectors/%s imports %s", vendor, p)
			}
		}
		simDir := filepath.Join(root, vendor, vendor+"sim")
		if _, err := os.Stat(simDir); err != nil {
			continue
		}
		sims++
		for p := range imports(t, simDir) {
			if strings.HasPrefix(p, module+"collectors/") && p != module+"collectors" {
				t.Errorf("collectors/%s/%ssim imports %s", vendor, vendor, p)
			}
		}
	}
	if sims < 5 {
		t.Errorf("found %d simulation packages, want one per vendor API (5)", sims)
	}
}
