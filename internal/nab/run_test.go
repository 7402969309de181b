package nab

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const profilesJSON = `{
"standard": {"CostMatrix": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.11, "tnWeight": 1.0}},
"reward_low_FP_rate": {"CostMatrix": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.22, "tnWeight": 1.0}},
"reward_low_FN_rate": {"CostMatrix": {"tpWeight": 1.0, "fnWeight": 2.0, "fpWeight": 0.11, "tnWeight": 1.0}}
}`

// tinyRoot writes a one-file NAB root (the tinyFile layout) and returns it.
func tinyRoot(t *testing.T) string {
	root := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "data", "cat"), 0o755))
	must(os.MkdirAll(filepath.Join(root, "labels"), 0o755))
	must(os.MkdirAll(filepath.Join(root, "config"), 0o755))
	var b strings.Builder
	b.WriteString("timestamp,value\n")
	for i := 0; i < 100; i++ {
		ts := time.Unix(1577836800+int64(i)*300, 0).UTC().Format(timeLayout)
		fmt.Fprintf(&b, "%s,%d\n", ts, 10+i%7)
	}
	must(os.WriteFile(filepath.Join(root, "data", "cat", "tiny.csv"), []byte(b.String()), 0o644))
	// Rows 40 and 49 are 2020-01-01 03:20:00 and 04:05:00.
	must(os.WriteFile(filepath.Join(root, "labels", "combined_windows.json"),
		[]byte(`{"cat/tiny.csv": [["2020-01-01 03:20:00.000000", "2020-01-01 04:05:00.000000"]]}`), 0o644))
	must(os.WriteFile(filepath.Join(root, "config", "profiles.json"), []byte(profilesJSON), 0o644))
	return root
}

func TestLoadCorpus(t *testing.T) {
	files, err := LoadCorpus(tinyRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || len(files[0].Values) != 100 || files[0].Values[8] != 11 {
		t.Fatalf("loaded %+v", files)
	}
	if w := files[0].Windows; len(w) != 1 || w[0] != (Window{40, 49}) {
		t.Errorf("windows %v, want [{40 49}]", w)
	}
}

func TestRunCommandScoresSavedResults(t *testing.T) {
	root := tinyRoot(t)
	res := filepath.Join(t.TempDir(), "res")
	os.MkdirAll(filepath.Join(res, "cat"), 0o755)
	var b strings.Builder
	b.WriteString("timestamp,value,anomaly_score\n")
	for i := 0; i < 100; i++ {
		s := 0.0
		if i == 45 {
			s = 1
		}
		fmt.Fprintf(&b, "x,0,%v\n", s)
	}
	// NAB's own naming, <detector>_<name>.csv, is found too.
	os.WriteFile(filepath.Join(res, "cat", "det_tiny.csv"), []byte(b.String()), 0o644)
	var out, errOut bytes.Buffer
	if code := RunCommand(context.Background(), []string{root, "--results", res, "--format", "json"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	// The JSON starts with the three profile scores, in this order.
	if !strings.HasPrefix(out.String(), "{\n  \"standard\": ") ||
		strings.Index(out.String(), "reward_low_FP_rate") > strings.Index(out.String(), "reward_low_FN_rate") {
		t.Errorf("key order: %s", out.String())
	}
	var j map[string]any
	if err := json.Unmarshal(out.Bytes(), &j); err != nil {
		t.Fatal(err)
	}
	// One detection at y = −0.5: raw 0.8597937 in every profile (no FP).
	// standard and low FP: 100·(0.8597937+1)/2 = 92.98968;
	// low FN: null −2, 100·(0.8597937+2)/3 = 95.32646.
	for k, want := range map[string]float64{"standard": 92.98968, "reward_low_FP_rate": 92.98968, "reward_low_FN_rate": 95.32646} {
		if got, _ := j[k].(float64); !near(got, want, 1e-3) {
			t.Errorf("%s = %v, want %v", k, got, want)
		}
	}
	if !strings.Contains(errOut.String(), "[1/1] cat/tiny.csv") {
		t.Errorf("no progress line: %q", errOut.String())
	}
}

func TestRunCommandWritesScores(t *testing.T) {
	root := tinyRoot(t)
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	if code := RunCommand(context.Background(), []string{"--scores-dir", dir, root}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	raw, err := os.ReadFile(filepath.Join(dir, "cat", "tiny.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if len(lines) != 101 || lines[0] != "timestamp,anomaly_score" || !strings.HasPrefix(lines[1], "2020-01-01 00:00:00,") {
		t.Errorf("scores file: %d lines, head %q", len(lines), lines[:2])
	}
	for _, want := range []string{"standard", "per category", "scoreboard"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

func TestRunCommandUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"a", "b"}, {"--format", "xml", "a"}, {"--detector", "x", "a"}} {
		var out, errOut bytes.Buffer
		if code := RunCommand(context.Background(), args, &out, &errOut); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
	var out, errOut bytes.Buffer
	if code := RunCommand(context.Background(), []string{t.TempDir()}, &out, &errOut); code != 1 {
		t.Errorf("empty root: exit %d, want 1", code)
	}
}

// nabRoot finds the NAB corpus: $NAB_ROOT, or shared/nab beside the repo.
// Without it the test is skipped on a developer's machine but fails in CI
// (CI set), where a missing corpus means the corpus tests silently stopped
// guarding anything.
func nabRoot(t *testing.T) string {
	t.Helper()
	if r := os.Getenv("NAB_ROOT"); r != "" {
		return r
	}
	r, _ := filepath.Abs(filepath.Join("..", "..", "..", "shared", "nab"))
	if _, err := os.Stat(filepath.Join(r, "labels", "combined_windows.json")); err != nil {
		missing(t, "NAB corpus not found at "+r+"; set NAB_ROOT")
	}
	return r
}

// missing skips the test, or fails it in CI (CI=true), where what it needs
// is supposed to be there.
func missing(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(why + " (CI is set: required)")
	}
	t.Skip(why)
}

// TestFullCorpus runs the built-in detector over all of NAB (about a second)
// and guards the score against regressions.
func TestFullCorpus(t *testing.T) {
	root := nabRoot(t)
	var out, errOut bytes.Buffer
	if code := RunCommand(context.Background(), []string{"--format", "json", root}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var j struct {
		Standard, LowFP, LowFN float64
		Windows                int
	}
	var m map[string]any
	json.Unmarshal(out.Bytes(), &m)
	j.Standard, _ = m["standard"].(float64)
	j.LowFP, _ = m["reward_low_FP_rate"].(float64)
	j.LowFN, _ = m["reward_low_FN_rate"].(float64)
	t.Logf("NAB standard %.2f, low FP %.2f, low FN %.2f", j.Standard, j.LowFP, j.LowFN)
	if w, _ := m["windows"].(float64); w != 116 {
		t.Errorf("windows %v, want 116", w)
	}
	// Measured 72.90 / 66.85 / 76.76 (71.17 / 65.34 / 75.03 before the
	// stuck-value signal). The floors are just under today's score, so a
	// change that loses ground fails here.
	if j.Standard < 72.85 || j.LowFP < 66.8 || j.LowFN < 76.7 {
		t.Errorf("scores fell: %.2f / %.2f / %.2f", j.Standard, j.LowFP, j.LowFN)
	}
}

// publishedInCorpus are the detectors whose raw outputs the corpus ships
// as results/<detector>.tar.xz (NAB's results/<detector>/… trees, packed).
var publishedInCorpus = []string{"numenta", "ARTime"}

// TestPublishedResults re-scores published detectors' output at their
// published thresholds and compares with final_results.json. By default
// it unpacks the tarballs the corpus ships (publishedInCorpus); with
// $NAB_RESULTS (a NAB checkout's results/ directory) it scores more.
func TestPublishedResults(t *testing.T) {
	root := nabRoot(t)
	dir := os.Getenv("NAB_RESULTS")
	detectors := []string{"null", "random", "numenta", "skyline", "contextOSE", "ARTime", "earthgeckoSkyline", "twitterADVec"}
	// The shipped two agree with final_results.json to about 2e-11 (NAB
	// sums in another order); other detectors were only checked to 1e-6.
	tol := 1e-6
	if dir == "" {
		dir, detectors, tol = unpackPublished(t, root), publishedInCorpus, 1e-9
	}
	pub, err := LoadPublished(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, det := range detectors {
		// LoadPublished reads a missing final_results.json as empty: that
		// must not pass as "nothing differed".
		if len(pub[det]) != 3 {
			t.Fatalf("%s: final_results.json has %d profiles, want 3", det, len(pub[det]))
		}
		var out, errOut bytes.Buffer
		if code := RunCommand(context.Background(), []string{"--format", "json", "--results", filepath.Join(dir, det), "--detector", det, root}, &out, &errOut); code != 0 {
			t.Fatalf("%s: exit %d: %s", det, code, errOut.String())
		}
		var j struct {
			At map[string]float64 `json:"at_published_thresholds"`
		}
		if err := json.Unmarshal(out.Bytes(), &j); err != nil {
			t.Fatalf("%s: %v in %s", det, err, out.String())
		}
		for p, want := range pub[det] {
			got, ok := j.At[p]
			if !ok || !near(got, want, tol) {
				t.Errorf("%s %s: %v, published %v", det, p, got, want)
			}
		}
	}
}

// unpackPublished unpacks root/results/<detector>.tar.xz for every
// detector in publishedInCorpus (with tar xJ, as a fresh machine can) into
// a temporary directory and returns the directory holding <detector>/.
func unpackPublished(t *testing.T, root string) string {
	t.Helper()
	dst := t.TempDir()
	for _, det := range publishedInCorpus {
		tarball := filepath.Join(root, "results", det+".tar.xz")
		if _, err := os.Stat(tarball); err != nil {
			missing(t, "published results not found: "+err.Error())
		}
		cmd := exec.Command("tar", "xJf", tarball, "-C", dst)
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("unpack %s: %v: %s", tarball, err, msg)
		}
	}
	// The tarballs hold NAB's results/<detector>/… paths.
	return filepath.Join(dst, "results")
}
