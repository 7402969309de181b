package config

import (
	"fmt"
	"math"
	"sort"

	"github.com/cdnmetrics/cdnmetrics/collectors"
)

// costProblems checks every [cost.<provider>] plan, and compare's
// steering margin.
func (c *Config) costProblems() []collectors.Problem {
	var ps []collectors.Problem
	names := make([]string, 0, len(c.Cost))
	for n := range c.Cost {
		names = append(names, n)
	}
	sort.Strings(names)
	configured := map[string]bool{}
	for _, cc := range c.Collectors {
		configured[cc.Name] = true
	}
	for _, n := range names {
		for _, p := range c.Cost[n].Problems(n) {
			ps = append(ps, collectors.Problem{Key: p.Key, Message: p.Message})
		}
		if len(c.Collectors) > 0 && !configured[n] {
			ps = append(ps, collectors.Problem{Key: "cost." + n, Warning: true,
				Message: fmt.Sprintf("no [%s] section in this config: no cost series is written for it here (compare still reads its plan)", n)})
		}
	}
	if m := c.Compare.SteeringMarginPct; math.IsNaN(m) || m <= 0 || m > 100 {
		ps = append(ps, collectors.Problem{Key: "compare.steering_margin_pct", Message: fmt.Sprintf("%v: must be above 0 and at most 100 (percentage points)", m)})
	}
	return ps
}
