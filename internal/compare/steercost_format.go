package compare

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

var steerCostHeader = []string{"provider", "weight", "observed", "diff", "cost", "per GB", "cost share", "month to date", "billed (commit)", "steering"}

// steerCostRows are the second table's rows: providers with weights or
// cost; nil when none has either.
func (r *Report) steerCostRows() [][]string {
	var rows [][]string
	for _, p := range r.Providers {
		if p.Steering == nil && p.Cost == nil {
			continue
		}
		row := make([]string, len(steerCostHeader))
		row[0] = p.Name
		if st := p.Steering; st != nil {
			row[1], row[2], row[3] = pct(st.Weight), pct(st.Observed), fmt.Sprintf("%+.2f pp", st.DiffPP)
			row[9] = "ok"
			if st.Flagged {
				row[9] = "FLAG"
			}
		}
		if c := p.Cost; c != nil {
			cur := c.Currency
			if cur == "" {
				cur = "?"
			}
			row[4] = money(c.Window, cur)
			if c.PerGB != nil {
				row[5] = fmt.Sprintf("%.4f %s", *c.PerGB, cur)
			}
			row[6] = pctp(c.Share)
			row[7] = money(c.MonthUsage, cur)
			row[8] = money(c.MonthBilled, cur)
			if c.Commit > 0 {
				row[8] += " (" + money(c.Commit, cur) + ")"
			}
		}
		rows = append(rows, row)
	}
	return rows
}

func money(v float64, cur string) string { return fmt.Sprintf("%.2f %s", v, cur) }

// writeSteerCost writes the steering and cost table (text or markdown)
// when some provider has weights or cost.
func (r *Report) writeSteerCost(b *strings.Builder, markdown bool) {
	rows := r.steerCostRows()
	if len(rows) == 0 {
		return
	}
	margin := r.Thresholds.SteeringMarginPct
	title := fmt.Sprintf("steering weight vs observed request share (flag beyond %g pp) and cost; month to date from the 1st (UTC)", margin)
	if markdown {
		fmt.Fprintf(b, "\n**%s**\n\n| %s |\n|", title, strings.Join(steerCostHeader, " | "))
		for i := range steerCostHeader {
			if i == 0 || i == len(steerCostHeader)-1 {
				b.WriteString(" --- |")
			} else {
				b.WriteString(" ---: |")
			}
		}
		b.WriteString("\n")
		for _, row := range rows {
			cs := make([]string, len(row))
			for i := range row {
				cs[i] = strings.ReplaceAll(dash(row[i]), "|", `\|`)
			}
			b.WriteString("| " + strings.Join(cs, " | ") + " |\n")
		}
		return
	}
	all := append([][]string{steerCostHeader}, rows...)
	width := make([]int, len(steerCostHeader))
	for _, row := range all {
		for i, c := range row {
			width[i] = max(width[i], utf8.RuneCountInString(dash(c)))
		}
	}
	fmt.Fprintf(b, "\n%s\n", title)
	for _, row := range all {
		var line strings.Builder
		for i, c := range row {
			c = dash(c)
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			if i == 0 || i == len(row)-1 {
				line.WriteString(c + pad)
			} else {
				line.WriteString(pad + c)
			}
			line.WriteString("  ")
		}
		b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
}

// jsonSteering and jsonCost are the --format json shapes of the columns.
type jsonSteering struct {
	Weight   float64 `json:"weight"`
	Observed float64 `json:"observed_request_share"`
	DiffPP   float64 `json:"diff_pp"`
	Flagged  bool    `json:"flagged"`
}

type jsonCost struct {
	Currency    *string  `json:"currency"`
	Window      float64  `json:"cost"`
	PerGB       *float64 `json:"price_per_gb"`
	Share       *float64 `json:"cost_share"`
	MonthFrom   string   `json:"month_from"`
	MonthUsage  float64  `json:"month_to_date_usage"`
	MonthBilled float64  `json:"month_to_date_billed"`
	Commit      float64  `json:"commit_monthly"`
}

func jsonSteerOf(p *Provider) *jsonSteering {
	if p.Steering == nil {
		return nil
	}
	s := p.Steering
	return &jsonSteering{Weight: s.Weight, Observed: s.Observed, DiffPP: s.DiffPP, Flagged: s.Flagged}
}

func jsonCostOf(p *Provider) *jsonCost {
	if p.Cost == nil {
		return nil
	}
	c := p.Cost
	j := &jsonCost{Window: c.Window, PerGB: c.PerGB, Share: c.Share, MonthFrom: c.MonthFrom.Format("2006-01-02T15:04:05Z07:00"),
		MonthUsage: c.MonthUsage, MonthBilled: c.MonthBilled, Commit: c.Commit}
	if c.Currency != "" {
		j.Currency = &c.Currency
	}
	return j
}
