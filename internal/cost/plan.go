package cost

import (
	"fmt"
	"math"
	"regexp"

	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// BytesPerGB is how CDNs bill: decimal gigabytes.
const BytesPerGB = 1e9

// Plan is one [cost.<provider>] table.
type Plan struct {
	// Currency is an ISO 4217 code ("USD", "EUR"); compare adds up only
	// providers of one currency.
	Currency string `toml:"currency"`
	// PerGB lists [from GB this month, price per GB] tiers, from 0 up.
	PerGB [][]float64 `toml:"per_gb"`
	// Per10kRequests is the price of 10,000 requests.
	Per10kRequests float64 `toml:"per_10k_requests"`
	// CommitMonthly is a minimum monthly bill; it does not change the
	// per-interval series, compare shows max(commitment, usage).
	CommitMonthly float64 `toml:"commit_monthly"`
}

var currencyRe = regexp.MustCompile(`^[A-Z]{3}$`)

// maxPrice bounds any price: a typo of a few orders of magnitude is
// refused rather than charted.
const maxPrice = 1e6

// Problems returns every problem of the plan of provider, each naming its
// key ("cost.fastly.per_gb[1]").
func (p Plan) Problems(provider string) []Problem {
	var ps []Problem
	key := "cost." + provider
	bad := func(k, format string, a ...any) {
		ps = append(ps, Problem{Key: key + k, Message: fmt.Sprintf(format, a...)})
	}
	if schema.Sanitize(provider) != provider {
		bad("", "%q is not a provider path element (lower-case [a-z0-9_-])", provider)
	}
	if schema.IsNamespace(provider) {
		bad("", "%q is a reserved namespace, not a provider", provider)
	}
	if !currencyRe.MatchString(p.Currency) {
		bad(".currency", "%q is not an ISO 4217 code (three upper-case letters, e.g. \"USD\")", p.Currency)
	}
	okPrice := func(v float64) bool { return !math.IsNaN(v) && v >= 0 && v <= maxPrice }
	if len(p.PerGB) == 0 && p.Per10kRequests == 0 {
		bad("", "prices nothing: set per_gb and/or per_10k_requests")
	}
	for i, t := range p.PerGB {
		k := fmt.Sprintf(".per_gb[%d]", i)
		if len(t) != 2 {
			bad(k, "want [from_GB, price_per_GB], got %d numbers", len(t))
			continue
		}
		if i == 0 && t[0] != 0 {
			bad(k, "the first tier must start at 0 GB, not %v", t[0])
		}
		if math.IsNaN(t[0]) || math.IsInf(t[0], 0) || t[0] < 0 {
			bad(k, "from %v GB: must be a non-negative number", t[0])
		}
		if i > 0 && len(p.PerGB[i-1]) == 2 && !(t[0] > p.PerGB[i-1][0]) {
			bad(k, "tiers must be sorted by their first GB, strictly increasing (%v after %v)", t[0], p.PerGB[i-1][0])
		}
		if !okPrice(t[1]) {
			bad(k, "price %v per GB: must be from 0 to %g", t[1], float64(maxPrice))
		}
	}
	if !okPrice(p.Per10kRequests) {
		bad(".per_10k_requests", "%v: must be from 0 to %g", p.Per10kRequests, float64(maxPrice))
	}
	if math.IsNaN(p.CommitMonthly) || math.IsInf(p.CommitMonthly, 0) || p.CommitMonthly < 0 {
		bad(".commit_monthly", "%v: must be a non-negative number", p.CommitMonthly)
	}
	return ps
}

// Problem is one config finding (the config package adds file and line).
type Problem struct {
	Key     string
	Message string
}

// BytesCost is the price of gb more gigabytes when before gigabytes were
// already served this month: each part of [before, before+gb) at the
// price of the tier it falls in.
func (p Plan) BytesCost(before, gb float64) float64 {
	var cost float64
	lo, hi := before, before+gb
	for i, t := range p.PerGB {
		from, price := t[0], t[1]
		to := math.Inf(1)
		if i+1 < len(p.PerGB) {
			to = p.PerGB[i+1][0]
		}
		a, b := math.Max(lo, from), math.Min(hi, to)
		if b > a {
			cost += (b - a) * price
		}
	}
	return cost
}

// RequestsCost is the price of n requests.
func (p Plan) RequestsCost(n float64) float64 { return n / 10000 * p.Per10kRequests }

// Usage is the price of a month's volume on its own: gb at the tiers
// and n requests (compare's month-to-date check of the series).
func (p Plan) Usage(gb, n float64) float64 { return p.BytesCost(0, gb) + p.RequestsCost(n) }
