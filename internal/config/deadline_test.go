package config

import (
	"strings"
	"testing"
	"time"
)

// run_timeout decodes as a top-level key, is refused outside 1s…24h, and
// RunDeadline falls back to the caller's default when it is unset.
func TestRunTimeout(t *testing.T) {
	cfg, probs := Parse("x.toml", []byte("run_timeout = \"90s\"\n"), env())
	if len(probs.Errors()) > 0 {
		t.Fatalf("problems: %v", probs)
	}
	if got := cfg.RunDeadline(10 * time.Minute); got != 90*time.Second {
		t.Fatalf("RunDeadline = %v, want the configured 90s", got)
	}
	cfg, _ = Parse("x.toml", []byte(""), env())
	if got := cfg.RunDeadline(10 * time.Minute); got != 10*time.Minute {
		t.Fatalf("RunDeadline unset = %v, want the 10m fallback", got)
	}
	for _, bad := range []string{"500ms", "-1m", "25h"} {
		_, probs := Parse("x.toml", []byte("run_timeout = \""+bad+"\"\n"), env())
		errs := probs.Errors()
		if len(errs) != 1 || errs[0].Key != "run_timeout" || !strings.Contains(errs[0].Message, "between 1s and 24h0m0s") {
			t.Errorf("run_timeout = %s: problems %v, want one on run_timeout", bad, errs)
		}
	}
}
