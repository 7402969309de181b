package app

import (
	"strings"
	"testing"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	_ "github.com/cdnmetrics/cdnmetrics/collectors/all"
	"github.com/cdnmetrics/cdnmetrics/internal/config"
)

// config.toml.example must hold no unknown key and name every collector
// the binary registers (the test binary registers the real ones through
// the e2e package; here: every registered one except test fakes).
func TestExampleConfigIsCompleteAndValid(t *testing.T) {
	cfg, probs := config.Load("../../config.toml.example", func(string) string { return "set" })
	for _, p := range probs {
		if strings.Contains(p.Message, "unknown") || strings.Contains(p.Message, "invalid cron") {
			t.Errorf("%s", p)
		}
	}
	if cfg == nil {
		t.Fatalf("example did not load: %v", probs)
	}
	have := map[string]bool{}
	for _, c := range cfg.Collectors {
		have[c.Name] = true
	}
	for _, name := range collectors.Names() {
		if name == "fakecdn" {
			continue
		}
		if !have[name] {
			t.Errorf("config.toml.example has no [%s] section", name)
		}
	}
}
