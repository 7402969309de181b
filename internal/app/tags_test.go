package app

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// [graphite] tags reaches the sink the commands build: a dry run with
// tags = "both" prints every provider point dotted and tagged, with "only"
// tagged alone; self-metrics stay dotted in both.
func TestGraphiteTagsReachTheSink(t *testing.T) {
	for _, mode := range []string{"both", "only"} {
		dir := t.TempDir()
		cfg := filepath.Join(dir, "config.toml")
		text := fmt.Sprintf("state_dir = %q\n[graphite]\naddress = \"127.0.0.1:1\"\nprefix = \"cdn\"\nspool_max_bytes = 0\ntags = %q\n[fakecdn]\ntoken_env = \"FAKECDN_TOKEN\"\n", filepath.Join(dir, "state"), mode)
		if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		code, out, errs := run(t, "collect", "--config", cfg, "--dry-run", "--from", "1700000000", "--to", "1700000120")
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", mode, code, errs)
		}
		// The same requests point as TestCollectDryRunPrintsLinesStampedWithIntervalStart
		// (333 at 1699999980), tagged by hand: cdn.<metric>;provider=;service=;location=.
		tagged := "cdn.requests;provider=fakecdn;service=www;location=lhr 333 1699999980\n"
		dotted := "cdn.fakecdn.www.lhr.requests 333 1699999980\n"
		if !strings.Contains(out, tagged) {
			t.Errorf("tags = %s: no tagged line %q in:\n%s", mode, tagged, out)
		}
		if got := strings.Contains(out, dotted); got != (mode == "both") {
			t.Errorf("tags = %s: dotted line present = %v", mode, got)
		}
	}
}
