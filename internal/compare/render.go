package compare

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cdnmetrics/cdnmetrics/internal/graphiteweb"
	"github.com/cdnmetrics/cdnmetrics/internal/redact"
)

// Series is one series of a render answer.
type Series struct {
	// Target is the series name graphite-web gave (after aliasByNode etc.).
	Target string
	Points []Point
}

// Point is one datapoint. Null marks a gap; Value may be ±Inf (graphite
// writes infinity as 1e9999).
type Point struct {
	Time  int64
	Value float64
	Null  bool
}

// renderSeries is the wire shape of one series: datapoints are raw JSON so
// that 1e9999 (out of float64 range for encoding/json) and null survive.
type renderSeries struct {
	Target     string            `json:"target"`
	Datapoints []json.RawMessage `json:"datapoints"`
}

// DecodeRender parses graphite-web's render JSON:
// [{"target": "...", "datapoints": [[value|null, ts], ...]}, ...].
// 1e9999 / -1e9999 decode to ±Inf, null to a gap. Anything else that is not
// a number (a string, a bool, a pair of the wrong length) is an error naming
// the series and the datapoint.
func DecodeRender(body []byte) ([]Series, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '[' {
		return nil, fmt.Errorf("not a render JSON array: %q", snippet(trimmed))
	}
	var raw []renderSeries
	if err := json.Unmarshal(trimmed, &raw); err != nil {
		return nil, fmt.Errorf("decode render JSON: %w", err)
	}
	out := make([]Series, 0, len(raw))
	for i, rs := range raw {
		s := Series{Target: rs.Target, Points: make([]Point, 0, len(rs.Datapoints))}
		for j, dp := range rs.Datapoints {
			p, err := decodePoint(dp)
			if err != nil {
				return nil, fmt.Errorf("series %d (%q) datapoint %d: %w", i, snippet([]byte(rs.Target)), j, err)
			}
			s.Points = append(s.Points, p)
		}
		out = append(out, s)
	}
	return out, nil
}

func decodePoint(dp json.RawMessage) (Point, error) {
	var pair []json.RawMessage
	if err := json.Unmarshal(dp, &pair); err != nil {
		return Point{}, fmt.Errorf("not a [value, timestamp] pair: %q", snippet(dp))
	}
	if len(pair) != 2 {
		return Point{}, fmt.Errorf("want [value, timestamp], got %d elements", len(pair))
	}
	ts, err := jsonNumber(pair[1])
	if err != nil || math.IsInf(ts, 0) || ts != math.Trunc(ts) || math.Abs(ts) > 1<<53 {
		return Point{}, fmt.Errorf("bad timestamp %q", snippet(pair[1]))
	}
	p := Point{Time: int64(ts)}
	if string(bytes.TrimSpace(pair[0])) == "null" {
		p.Null = true
		return p, nil
	}
	if p.Value, err = jsonNumber(pair[0]); err != nil {
		return Point{}, fmt.Errorf("bad value %q", snippet(pair[0]))
	}
	return p, nil
}

// jsonNumber parses a JSON number token; out-of-range values (1e9999)
// give ±Inf, which is how graphite-web writes infinity.
func jsonNumber(raw json.RawMessage) (float64, error) {
	s := string(bytes.TrimSpace(raw))
	// ParseFloat also takes "Inf", "NaN", hex and underscores: none of
	// them is a JSON number, so insist on the JSON number grammar first.
	if !json.Valid([]byte(s)) || s == "" || !(s[0] == '-' || (s[0] >= '0' && s[0] <= '9')) {
		return 0, errors.New("not a number")
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, err
	}
	return v, nil
}

// snippet quotes the start of an answer from graphite-web in an error,
// credentials redacted first (a page may echo the request's headers).
func snippet(b []byte) string {
	const n = 120
	s := redact.Bytes(b)
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// client talks to one graphite-web through the shared graphiteweb client
// (basic auth, timeouts, bounded answers, redacted errors).
type client struct {
	web *graphiteweb.Client
}

func newClient(o Options) (*client, error) {
	web, err := graphiteweb.New(o.WebURL, o.Username, o.Password, o.HTTPClient)
	if err != nil {
		return nil, err
	}
	return &client{web: web}, nil
}

// get fetches path?q and returns the body of a 200 answer.
func (c *client) get(ctx context.Context, path string, q url.Values) ([]byte, string, error) {
	return c.web.Get(ctx, path, q)
}

// errorText shortens a graphite-web error page (Django's HTML debug page
// or a plain traceback) to something that fits on one line.
func errorText(body []byte) string {
	s := strings.Join(strings.Fields(redact.Bytes(body)), " ")
	if i := strings.Index(s, "<title>"); i >= 0 {
		if j := strings.Index(s[i:], "</title>"); j > 0 {
			return s[i+7 : i+j]
		}
	}
	return snippet([]byte(s))
}

// render fetches targets as JSON over [from, until): the points stamped
// from on and before until. Whisper answers (from, until] (a point stamped
// exactly at from is left out, one at until is in), so both ends are asked
// one second earlier: with hourly buckets the other way would count the
// hour after the window instead of the one inside it.
func (c *client) render(ctx context.Context, targets []string, from, until time.Time) ([]Series, error) {
	q := url.Values{"format": {"json"}, "from": {unix(from.Add(-time.Second))}, "until": {unix(until.Add(-time.Second))}}
	for _, t := range targets {
		q.Add("target", t)
	}
	body, ctype, err := c.get(ctx, "/render", q)
	if err != nil {
		return nil, err
	}
	ss, err := DecodeRender(body)
	if err != nil {
		return nil, fmt.Errorf("graphite-web /render (%s): %w", ctype, err)
	}
	return ss, nil
}

// findNode is one /metrics/find answer element.
type findNode struct {
	Text string `json:"text"`
	// Expandable is 1/0 in graphite-web 1.1; other versions say true/false.
	Expandable json.RawMessage `json:"expandable"`
}

// find lists the children matching query (e.g. "cdn.*") that have children
// themselves.
func (c *client) find(ctx context.Context, query string) ([]string, error) {
	body, ctype, err := c.get(ctx, "/metrics/find", url.Values{"query": {query}})
	if err != nil {
		return nil, err
	}
	var nodes []findNode
	if err := json.Unmarshal(bytes.TrimSpace(body), &nodes); err != nil {
		return nil, fmt.Errorf("graphite-web /metrics/find (%s): not JSON: %q", ctype, snippet(body))
	}
	var names []string
	for _, n := range nodes {
		if e := string(bytes.TrimSpace(n.Expandable)); e != "" && e != "0" && e != "false" && e != "null" {
			names = append(names, n.Text)
		}
	}
	return names, nil
}

// png renders targets as an image.
func (c *client) png(ctx context.Context, targets []string, from, until time.Time, extra url.Values) ([]byte, error) {
	q := url.Values{"format": {"png"}, "from": {unix(from)}, "until": {unix(until)}}
	for k, v := range extra {
		q[k] = v
	}
	for _, t := range targets {
		q.Add("target", t)
	}
	body, ctype, err := c.get(ctx, "/render", q)
	if err != nil {
		return nil, err
	}
	if !bytes.HasPrefix(body, []byte("\x89PNG")) {
		return nil, fmt.Errorf("graphite-web /render: answer is %s, not a PNG: %s", ctype, errorText(body))
	}
	return body, nil
}

func unix(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }
