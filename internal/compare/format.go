package compare

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// jsonReport is the --format json shape; field order is the output order.
type jsonReport struct {
	From       string         `json:"from"`
	Until      string         `json:"until"`
	Baseline   string         `json:"baseline"`
	Service    *string        `json:"service"`
	Thresholds jsonThresholds `json:"thresholds"`
	Providers  []jsonProvider `json:"providers"`
	Notes      []string       `json:"notes"`
}

type jsonThresholds struct {
	TTFBMaxIncreasePct     float64 `json:"ttfb_max_increase_pct"`
	HitRatioMaxDropPP      float64 `json:"hit_ratio_max_drop_pp"`
	OriginOffloadMaxDropPP float64 `json:"origin_offload_max_drop_pp"`
	ErrorRatioMaxRisePP    float64 `json:"error_ratio_max_rise_pp"`

	SteeringMarginPct float64 `json:"steering_margin_pct"`
}

type jsonProvider struct {
	Provider       string   `json:"provider"`
	Requests       *float64 `json:"requests"`
	EdgeBytes      *float64 `json:"edge_bytes"`
	RequestShare   *float64 `json:"request_share"`
	BytesShare     *float64 `json:"bytes_share"`
	HitRatio       *float64 `json:"hit_ratio"`
	OriginOffload  *float64 `json:"origin_offload"`
	RequestOffload *float64 `json:"request_offload"`
	ErrorRatio     *float64 `json:"error_ratio"`
	TTFBP50        *float64 `json:"ttfb_p50_ms"`
	TTFBP95        *float64 `json:"ttfb_p95_ms"`
	TTFBSamples    int      `json:"ttfb_samples"`
	TTFBSource     string   `json:"ttfb_source"` // "rum", "probe" or ""
	Hits           *float64 `json:"hits"`
	Misses         *float64 `json:"misses"`
	OriginBytes    *float64 `json:"origin_bytes"`
	OriginRequests *float64 `json:"origin_requests"`
	Status5xx      *float64 `json:"status_5xx"`
	Services       []string `json:"services"`
	Verdict        string   `json:"verdict"`
	Failures       []string `json:"failures"`
	Reasons        []string `json:"reasons"`

	// The steering and cost columns (steercost.go); null without data.
	Steering *jsonSteering `json:"steering"`
	Cost     *jsonCost     `json:"cost"`
}

// WriteJSON writes the report as one JSON object. Ratios and shares are
// fractions (0.953, not 95.3); unknown values are null.
func (r *Report) WriteJSON(w io.Writer) error {
	out := jsonReport{
		From: r.From.Format(time.RFC3339), Until: r.Until.Format(time.RFC3339), Baseline: r.Baseline,
		Thresholds: jsonThresholds{
			TTFBMaxIncreasePct: r.Thresholds.TTFBMaxIncreasePct, HitRatioMaxDropPP: r.Thresholds.HitRatioMaxDropPP,
			OriginOffloadMaxDropPP: r.Thresholds.OriginOffloadMaxDropPP, ErrorRatioMaxRisePP: r.Thresholds.ErrorRatioMaxRisePP,
			SteeringMarginPct: r.Thresholds.SteeringMarginPct,
		},
		Providers: []jsonProvider{},
		Notes:     nonNil(r.Notes),
	}
	if r.Service != "" {
		out.Service = &r.Service
	}
	for _, p := range r.Providers {
		out.Providers = append(out.Providers, jsonProvider{
			Provider: p.Name, Requests: p.Requests, EdgeBytes: p.EdgeBytes, RequestShare: p.RequestShare,
			BytesShare: p.BytesShare, HitRatio: p.HitRatio, OriginOffload: p.OriginOffload,
			RequestOffload: p.RequestOffload, ErrorRatio: p.ErrorRatio, TTFBP50: p.TTFBP50, TTFBP95: p.TTFBP95,
			TTFBSamples: p.TTFBSamples, TTFBSource: p.TTFBSource, Hits: p.Hits, Misses: p.Misses, OriginBytes: p.OriginBytes,
			OriginRequests: p.OriginRequests, Status5xx: p.Status5xx, Services: nonNil(p.Services),
			Verdict: p.Verdict, Failures: nonNil(p.Failures), Reasons: nonNil(p.Reasons()),
			Steering: jsonSteerOf(p), Cost: jsonCostOf(p),
		})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func nonNil(xs []string) []string {
	if xs == nil {
		return []string{}
	}
	return xs
}

var header = []string{"provider", "requests", "req share", "edge bytes", "bytes share", "hit ratio",
	"origin offload", "req offload", "error ratio", "ttfb p50", "ttfb p95", "verdict"}

// cells formats one row; "" is an unknown value.
func cells(p *Provider) []string {
	return []string{p.Name, count(p.Requests), pctp(p.RequestShare), bytesp(p.EdgeBytes), pctp(p.BytesShare),
		pctp(p.HitRatio), pctp(p.OriginOffload), pctp(p.RequestOffload), pct3p(p.ErrorRatio),
		msp(p.TTFBP50), msp(p.TTFBP95), p.Verdict}
}

func (r *Report) title() string {
	svc := "all services summed"
	if r.Service != "" {
		svc = "service " + r.Service
	}
	return fmt.Sprintf("%s to %s, %s, baseline %s", r.From.Format(time.RFC3339), r.Until.Format(time.RFC3339), svc, r.Baseline)
}

// WriteTable writes an aligned text table, then the reasons and notes.
func (r *Report) WriteTable(w io.Writer) error {
	rows := [][]string{header}
	for _, p := range r.Providers {
		rows = append(rows, cells(p))
	}
	width := make([]int, len(header))
	for _, row := range rows {
		for i, c := range row {
			width[i] = max(width[i], utf8.RuneCountInString(dash(c)))
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "compare %s\n\n", r.title())
	for _, row := range rows {
		for i, c := range row {
			c = dash(c)
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			switch {
			case i == 0 || i == len(row)-1:
				b.WriteString(c + pad) // text columns align left
			default:
				b.WriteString(pad + c)
			}
			if i < len(row)-1 {
				b.WriteString("  ")
			}
		}
		trimmed := strings.TrimRight(b.String(), " ")
		b.Reset()
		b.WriteString(trimmed + "\n")
	}
	r.writeSteerCost(&b, false)
	r.writeReasons(&b, "")
	_, err := io.WriteString(w, strings.TrimRight(b.String(), " \n")+"\n")
	return err
}

// WriteMarkdown writes a GitHub table, then the reasons as a list.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "**compare** %s\n\n", r.title())
	b.WriteString("| " + strings.Join(header, " | ") + " |\n|")
	for i := range header {
		if i == 0 || i == len(header)-1 {
			b.WriteString(" --- |")
		} else {
			b.WriteString(" ---: |")
		}
	}
	b.WriteString("\n")
	for _, p := range r.Providers {
		cs := cells(p)
		for i := range cs {
			cs[i] = strings.ReplaceAll(dash(cs[i]), "|", `\|`)
		}
		b.WriteString("| " + strings.Join(cs, " | ") + " |\n")
	}
	r.writeSteerCost(&b, true)
	r.writeReasons(&b, "- ")
	_, err := io.WriteString(w, b.String())
	return err
}

func (r *Report) writeReasons(b *strings.Builder, bullet string) {
	any := len(r.Notes) > 0
	for _, p := range r.Providers {
		any = any || len(p.Failures)+len(p.Notes) > 0
	}
	if !any {
		return
	}
	b.WriteString("\n")
	for _, p := range r.Providers {
		for _, f := range p.Failures {
			fmt.Fprintf(b, "%s%s: FAIL: %s\n", bullet, p.Name, f)
		}
	}
	for _, p := range r.Providers {
		for _, n := range p.Notes {
			fmt.Fprintf(b, "%s%s: %s\n", bullet, p.Name, n)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(b, "%s%s\n", bullet, n)
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func count(v *float64) string {
	if v == nil {
		return ""
	}
	return strconv.FormatFloat(*v, 'f', -1, 64)
}

func pct(v float64) string { return fmt.Sprintf("%.2f%%", v*100) }
func ms(v float64) string  { return fmt.Sprintf("%.1f", v) }

func pctp(v *float64) string {
	if v == nil {
		return ""
	}
	return pct(*v)
}

// pct3p gives error ratios, which are small, a third decimal.
func pct3p(v *float64) string {
	if v == nil {
		return ""
	}
	return pct3(*v)
}

func pct3(v float64) string { return fmt.Sprintf("%.3f%%", v*100) }

func msp(v *float64) string {
	if v == nil {
		return ""
	}
	return fmt.Sprintf("%.1f ms", *v)
}

// bytesp formats bytes with SI units (the exact count is in the JSON).
func bytesp(v *float64) string {
	if v == nil {
		return ""
	}
	units := []string{"B", "kB", "MB", "GB", "TB", "PB", "EB"}
	x, i := *v, 0
	for x >= 1000 && i < len(units)-1 {
		x /= 1000
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f B", x)
	}
	return fmt.Sprintf("%.2f %s", x, units[i])
}
