package config

import (
	"testing"
	"time"
)

func TestClockSkewTolerance(t *testing.T) {
	cfg, probs := Parse("x.toml", []byte(good), env("TESTCDN_TOKEN", "x"))
	if cfg == nil || cfg.ClockSkewTolerance.D() != 5*time.Minute {
		t.Fatalf("default clock_skew_tolerance: cfg %v problems %v; want 5m", cfg, probs)
	}
	cfg, probs = Parse("x.toml", []byte("clock_skew_tolerance = \"90s\"\n"), env())
	if cfg == nil || cfg.ClockSkewTolerance.D() != 90*time.Second {
		t.Fatalf("clock_skew_tolerance = 90s not decoded: %v", probs)
	}
	for _, v := range []string{"0s", "-1m", "500ms", "25h", "soon"} {
		_, probs := Parse("x.toml", []byte("clock_skew_tolerance = \""+v+"\"\n"), env())
		found := false
		for _, p := range probs {
			found = found || (p.Key == "clock_skew_tolerance" && !p.Warning)
		}
		if !found {
			t.Errorf("clock_skew_tolerance = %q accepted: %v", v, probs)
		}
	}
}
