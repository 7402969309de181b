package steering

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// Weights are one service's configured weights by provider: any
// non-negative numbers, only their proportions matter.
type Weights map[string]float64

// maxProviders bounds the providers one source may name: a steering
// document with thousands of keys is a broken document, not a CDN setup,
// and each key would become a series.
const maxProviders = 50

// maxWeight bounds one weight (Route 53 takes 0–255; files are free, but
// not astronomically so).
const maxWeight = 1e12

// ParseWeights reads the JSON document of the file and HTTP sources: one
// object mapping provider names to non-negative numbers,
// {"fastly": 70, "akamai": 30}. A provider name must be a valid path
// element after sanitising and not a reserved namespace; a document with
// a bad entry is rejected whole, since a half-read set of weights would
// give wrong shares.
func ParseWeights(data []byte) (Weights, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var raw map[string]json.Number
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("not a JSON object of provider → number: %w", err)
	}
	if dec.More() {
		return nil, errors.New("trailing data after the JSON object")
	}
	if raw == nil {
		return nil, errors.New("not a JSON object of provider → number (null)")
	}
	if len(raw) > maxProviders {
		return nil, fmt.Errorf("%d providers: at most %d", len(raw), maxProviders)
	}
	w := Weights{}
	for name, n := range raw {
		v, err := strconv.ParseFloat(string(n), 64)
		if err != nil {
			return nil, fmt.Errorf("provider %q: weight %q is not a number", name, string(n))
		}
		if err := checkEntry(name, v); err != nil {
			return nil, err
		}
		p := schema.Sanitize(name)
		if _, dup := w[p]; dup {
			return nil, fmt.Errorf("provider %q: named twice (after sanitising: %q)", name, p)
		}
		w[p] = v
	}
	return w, nil
}

// checkEntry judges one provider name and weight from outside.
func checkEntry(name string, v float64) error {
	if strings.TrimSpace(name) == "" {
		return errors.New("empty provider name")
	}
	if len(name) > 64 {
		return fmt.Errorf("provider name of %d bytes: at most 64", len(name))
	}
	if schema.IsNamespace(schema.Sanitize(name)) {
		return fmt.Errorf("provider %q: a reserved namespace, not a provider", name)
	}
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v > maxWeight {
		return fmt.Errorf("provider %q: weight %v must be a number from 0 to %g", name, v, float64(maxWeight))
	}
	return nil
}

// Shares returns each provider's share of the total weight; ok is false
// when the total is 0 (no provider gets traffic, or every one equally as
// Route 53 does: either way there is no share to state).
func (w Weights) Shares() (map[string]float64, bool) {
	var total float64
	for _, v := range w {
		total += v
	}
	if total <= 0 {
		return nil, false
	}
	out := make(map[string]float64, len(w))
	for p, v := range w {
		out[p] = v / total
	}
	return out, true
}

// Equal reports whether w and o name the same providers with the same
// weights.
func (w Weights) Equal(o Weights) bool {
	if len(w) != len(o) {
		return false
	}
	for p, v := range w {
		if ov, ok := o[p]; !ok || ov != v {
			return false
		}
	}
	return true
}

// Change describes the move from old to w, "www: fastly 70→50, akamai
// 30→50": every provider whose weight changed, the biggest old weight
// first (then by name); a provider that appeared or went away shows "-"
// on that side.
func (w Weights) Change(service string, old Weights) string {
	type move struct {
		p        string
		old, new string
		rank     float64
	}
	var ms []move
	for p, v := range w {
		ov, ok := old[p]
		switch {
		case !ok:
			ms = append(ms, move{p, "-", num(v), -1})
		case ov != v:
			ms = append(ms, move{p, num(ov), num(v), ov})
		}
	}
	for p, ov := range old {
		if _, ok := w[p]; !ok {
			ms = append(ms, move{p, num(ov), "-", ov})
		}
	}
	sort.Slice(ms, func(i, j int) bool {
		if ms[i].rank != ms[j].rank {
			return ms[i].rank > ms[j].rank
		}
		return ms[i].p < ms[j].p
	})
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.p + " " + m.old + "→" + m.new
	}
	return service + ": " + strings.Join(parts, ", ")
}

func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
