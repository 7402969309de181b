package akamai

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// report is a Reporting API v2 answer: metadata and flat rows keyed by
// dimension and metric names.
type report struct {
	Metadata struct {
		Name  string `json:"name"`
		Start string `json:"start"`
		End   string `json:"end"`
	} `json:"metadata"`
	Data []map[string]json.RawMessage `json:"data"`
}

// problem is an application/problem+json error.
type problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	ProblemID string `json:"problemId"`
}

// problemText turns a problem+json body into "title: detail (problemId)",
// or "" when the body is not one.
func problemText(body string) string {
	var p problem
	if json.Unmarshal([]byte(strings.TrimSuffix(body, "…")), &p) != nil || (p.Title == "" && p.Detail == "") {
		return ""
	}
	s := p.Title
	if p.Detail != "" {
		s += ": " + p.Detail
	}
	if p.ProblemID != "" {
		s += " (problemId " + p.ProblemID + ")"
	}
	return s
}

// key is one CP code's 5-minute interval.
type key struct {
	cpcode int64
	start  int64
}

// parseReport decodes a report; rows are decoded one by one so a bad row
// costs only itself.
func parseReport(body []byte) (*report, error) {
	var r report
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("decode report: %w (body starts %q)", err, head(body))
	}
	return &r, nil
}

func head(b []byte) string {
	if len(b) > 80 {
		b = b[:80]
	}
	return string(b)
}

// num reads a LONG/DOUBLE value that may come as a number or a string
// (v1 sent strings; v2's cpcode type is not confirmed).
func num(raw json.RawMessage) (float64, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return 0, fmt.Errorf("missing")
	}
	if s[0] == '"' {
		var str string
		if err := json.Unmarshal(raw, &str); err != nil {
			return 0, err
		}
		s = str
	}
	return strconv.ParseFloat(s, 64)
}

// possible is a vendor count as read, or NaN when it is not a number or
// impossible (negative, above 2^53). Counts of one CP code and interval
// are summed (Merge, Add): NaN stays NaN through the sums, so the field
// reaches the pipeline's value check unknown (rejected, warned about and
// counted in rejected_values there) instead of as a plausible wrong total,
// and the rest of the row stays.
func possible(v float64, err error) float64 {
	if err != nil || !(v >= 0) || v > schema.MaxCount {
		return math.NaN()
	}
	return v
}

// trafficRows maps traffic rows to counts per CP code and interval.
func trafficRows(r *report, want map[int64]bool) (map[key]*schema.Counts, []string) {
	out := map[key]*schema.Counts{}
	var skipped []string
	for i, row := range r.Data {
		k, err := rowKey(row)
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("row %d: %v", i, err))
			continue
		}
		if !want[k.cpcode] {
			continue
		}
		var c schema.Counts
		for metric, field := range map[string]schema.Field{
			"edgeHitsSum": schema.Requests, "edgeBytesSum": schema.EdgeBytes,
			"originHitsSum": schema.OriginRequests, "originBytesSum": schema.OriginBytes,
		} {
			raw, present := row[metric]
			if !present {
				continue // a metric Akamai left out is unknown, not zero
			}
			c.Set(field, possible(num(raw)))
		}
		if prev := out[k]; prev != nil {
			prev.Merge(&c)
		} else {
			out[k] = &c
		}
	}
	return out, skipped
}

var classField = map[string]schema.Field{"2xx": schema.Status2xx, "3xx": schema.Status3xx, "4xx": schema.Status4xx, "5xx": schema.Status5xx}

// addClasses adds the responseClass rows into counts: every interval with
// traffic gets known status classes, absent classes being 0.
func addClasses(r *report, counts map[key]*schema.Counts) []string {
	var skipped []string
	for _, c := range counts {
		for _, f := range classField {
			c.Add(f, 0)
		}
	}
	for i, row := range r.Data {
		k, err := rowKey(row)
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("class row %d: %v", i, err))
			continue
		}
		c := counts[k]
		if c == nil {
			continue
		}
		var class string
		if json.Unmarshal(row["responseClass"], &class) != nil {
			skipped = append(skipped, fmt.Sprintf("class row %d: no responseClass", i))
			continue
		}
		f, ok := classField[class]
		if !ok {
			continue // 0xx, 1xx, 6xx have no unified field
		}
		c.Add(f, possible(num(row["edgeHitsSum"])))
	}
	return skipped
}

// rowKey reads a row's interval and CP code: whole positive numbers only
// (a fractional time would be truncated into an interval it is not, a
// fractional CP code into another CP code), within 2^53.
func rowKey(row map[string]json.RawMessage) (key, error) {
	t, err := num(row["time5minutes"])
	if err != nil || !wholePositive(t) || int64(t)%300 != 0 {
		return key{}, fmt.Errorf("bad time5minutes %s", row["time5minutes"])
	}
	cp, err := num(row["cpcode"])
	if err != nil || !wholePositive(cp) {
		return key{}, fmt.Errorf("bad cpcode %s", row["cpcode"])
	}
	return key{cpcode: int64(cp), start: int64(t)}, nil
}

func wholePositive(v float64) bool {
	return v > 0 && v <= schema.MaxCount && v == math.Trunc(v)
}
