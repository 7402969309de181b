package config

import (
	"strings"
	"testing"
)

// [cost.<provider>] decodes (integers and decimals mixed in a tier) and
// validate refuses bad plans before any network.
func TestCostSections(t *testing.T) {
	good := `
[cost.fastly]
currency = "USD"
per_gb = [[0, 0.12], [10240, 0.08], [51200, 0.06]]
per_10k_requests = 0.0075
commit_monthly = 2000.0
`
	cfg, probs := Parse("c.toml", []byte(good), func(string) string { return "" })
	if len(probs.Errors()) > 0 {
		t.Fatalf("good plan refused: %v", probs)
	}
	p := cfg.Cost["fastly"]
	if p.Currency != "USD" || len(p.PerGB) != 3 || p.PerGB[1][0] != 10240 || p.PerGB[2][1] != 0.06 || p.Per10kRequests != 0.0075 || p.CommitMonthly != 2000 {
		t.Errorf("decoded %+v", p)
	}
	if cfg.Compare.SteeringMarginPct != 10 {
		t.Errorf("steering_margin_pct default %v, want 10", cfg.Compare.SteeringMarginPct)
	}
	for _, tc := range []struct{ name, text, key string }{
		{"negative price", "[cost.fastly]\ncurrency = \"USD\"\nper_gb = [[0, -0.12]]\n", "cost.fastly.per_gb[0]"},
		{"unsorted tiers", "[cost.fastly]\ncurrency = \"USD\"\nper_gb = [[0, 0.12], [500, 0.1], [100, 0.08]]\n", "cost.fastly.per_gb[2]"},
		{"currency", "[cost.fastly]\ncurrency = \"dollars\"\nper_gb = [[0, 0.12]]\n", "cost.fastly.currency"},
		{"unknown key", "[cost.fastly]\ncurrency = \"USD\"\nper_gb = [[0, 0.12]]\nper_tb = 3\n", "cost.fastly.per_tb"},
		{"namespace", "[cost.steering]\ncurrency = \"USD\"\nper_gb = [[0, 0.12]]\n", "cost.steering"},
		{"margin", "[compare]\nsteering_margin_pct = -1\n", "compare.steering_margin_pct"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, probs := Parse("c.toml", []byte(tc.text), func(string) string { return "" })
			found := false
			for _, p := range probs.Errors() {
				found = found || p.Key == tc.key
			}
			if !found {
				t.Errorf("no error on %s: %v", tc.key, strings.TrimSpace(probs.Error()))
			}
		})
	}
}
