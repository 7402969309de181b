package fastly

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/httpx"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// maxInspectPages bounds the meta.next_cursor pages of one historical
// inspector query.
const maxInspectPages = 200

// inspectHistAnswer is one page of GET /metrics/{origins|domains}/services/{id}:
//
//	{"status":"success","msg":null,
//	 "meta":{"downsample":"minute","next_cursor":"…",…},
//	 "data":[{"dimensions":{"host":"…","datacenter":"…"},
//	          "values":[{"timestamp":N,"responses":N,…},…]},…]}
//
// It is read once a minute per service and feed, so encoding/json does;
// measurements stay raw so a value that is not a number costs only itself.
type inspectHistAnswer struct {
	Status *string `json:"status"`
	Msg    *string `json:"msg"`
	Meta   struct {
		NextCursor *string `json:"next_cursor"`
	} `json:"meta"`
	Data []struct {
		Dimensions map[string]*string           `json:"dimensions"`
		Values     []map[string]json.RawMessage `json:"values"`
	} `json:"data"`
}

// iSeriesMinute is one series' minute: the key of the sums a historical
// query builds (a series may come in several entries or pages).
type iSeriesMinute struct {
	iKey
	t int64
}

// inspectHist is a historical query's running sums, in first-seen order.
type inspectHist struct {
	order []iSeriesMinute
	sums  map[iSeriesMinute]*ivals
	// after holds the timestamps at or after the window's end: those
	// ahead of our clock are counted in rejected_future.
	after []int64
	// renamed are the POP codes named like a reserved location that got
	// points under "pop_<node>", each once per query, for the collector
	// to warn about and count (reportHistRenamed).
	renamed []string
}

// noteRenamed adds the POP code to h.renamed unless it is there.
func (h *inspectHist) noteRenamed(code string) {
	for _, c := range h.renamed {
		if c == code {
			return
		}
	}
	h.renamed = append(h.renamed, code)
}

// parseInspectHist folds one page into h, keeping minutes inside w. It
// returns the next cursor ("" at the end), reasons for values it skipped,
// and an error when the page as a whole is unusable.
func parseInspectHist(body []byte, fd *inspectFeed, perPOP bool, w collectors.Window, h *inspectHist) (next string, skipped []string, err error) {
	var a inspectHistAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return "", nil, fmt.Errorf("decode: %w (body starts %q)", err, head(body))
	}
	if a.Status != nil && *a.Status != "success" {
		msg := "null"
		if a.Msg != nil {
			msg = *a.Msg
		}
		return "", nil, fmt.Errorf("status %q: msg %s", *a.Status, msg)
	}
	if h.sums == nil {
		h.sums = map[iSeriesMinute]*ivals{}
	}
	lo, hi := w.Start.Unix(), w.End.Unix()
	for i, d := range a.Data {
		name := d.Dimensions[fd.groupBy]
		if name == nil {
			skipped = append(skipped, fmt.Sprintf("entry %d has no %s dimension", i, fd.groupBy))
			continue
		}
		// Location all always; grouped by datacenter, the historical API
		// has no aggregate, so all is the sum of the POPs' series, and
		// each POP is its own location too.
		locs := []string{schema.LocationAll}
		renamed := "" // the datacenter's code when it is written as "pop_<node>"
		if perPOP {
			dc := d.Dimensions["datacenter"]
			if dc == nil {
				skipped = append(skipped, fmt.Sprintf("entry %d has no datacenter dimension", i))
				continue
			}
			loc, isRenamed := inspectPOPRenamed([]byte(*dc))
			locs = append(locs, loc)
			if isRenamed {
				renamed = *dc
			}
		}
		node := inspectNode([]byte(*name))
		wrote := false // a value of this entry kept inside the window
		for j, v := range d.Values {
			var t int64
			raw, ok := v["timestamp"]
			if ok {
				t, err = strconv.ParseInt(string(raw), 10, 64)
			}
			if !ok || err != nil {
				skipped = append(skipped, fmt.Sprintf("entry %d value %d: timestamp is not an integer", i, j))
				err = nil
				continue
			}
			if t >= hi {
				h.after = append(h.after, t)
				continue
			}
			if t < lo {
				continue
			}
			if t%60 != 0 {
				skipped = append(skipped, fmt.Sprintf("entry %d value %d: timestamp %d is not on a minute", i, j, t))
				continue
			}
			var x ivals
			for k, raw := range v {
				if fi := fd.lookup([]byte(k)); fi >= 0 {
					f, perr := strconv.ParseFloat(string(raw), 64)
					if perr != nil && string(raw) != "null" {
						f = math.NaN() // not a number: this field unknown
					} else if perr != nil {
						f = 0
					}
					x.v[fi] = f
				}
			}
			for _, loc := range locs {
				key := iSeriesMinute{iKey{loc: loc, node: node}, t}
				sum := h.sums[key]
				if sum == nil {
					sum = &ivals{}
					h.sums[key] = sum
					h.order = append(h.order, key)
				}
				sum.add(&x)
			}
			wrote = true
		}
		if wrote && renamed != "" {
			h.noteRenamed(renamed)
		}
	}
	if a.Meta.NextCursor != nil {
		next = *a.Meta.NextCursor
	}
	return next, skipped, nil
}

// points appends the points of every series minute of h.
func (h *inspectHist) points(prefix, service, feed string, dst []schema.Point) []schema.Point {
	for _, k := range h.order {
		dst = inspectPoints(prefix, service, k.loc, feed, k.node, k.t, h.sums[k], dst)
	}
	return dst
}

// inspectHistorical reads one service's inspector feed for w, following
// meta.next_cursor, and returns its points.
func (c *Collector) inspectHistorical(ctx context.Context, s service, fd *inspectFeed, w collectors.Window) ([]schema.Point, error) {
	groupBy := fd.groupBy
	if c.o.InspectorsPerPOP {
		groupBy += ",datacenter"
	}
	q := url.Values{
		"start":      {strconv.FormatInt(w.Start.Unix(), 10)},
		"end":        {strconv.FormatInt(w.End.Unix(), 10)},
		"downsample": {"minute"},
		"group_by":   {groupBy},
		"limit":      {"200"}, // Fastly's maximum series per page
	}
	base := strings.TrimRight(c.o.APIURL, "/") + "/metrics/" + fd.name + "/services/" + url.PathEscape(s.id) + "?"
	endpoint := "GET /metrics/" + fd.name + "/services/{id}"
	var h inspectHist
	seen := map[string]bool{}
	for page := 0; ; page++ {
		if page >= maxInspectPages {
			return nil, fmt.Errorf("fastly: %s: more than %d pages", endpoint, maxInspectPages)
		}
		resp, err := c.http.Do(ctx, httpx.Request{URL: base + q.Encode(), Header: c.header(), Endpoint: endpoint})
		if err != nil {
			return nil, err
		}
		next, skipped, err := parseInspectHist(resp.Body, fd, c.o.InspectorsPerPOP, w, &h)
		if err != nil {
			return nil, fmt.Errorf("fastly: %s page %d: %w", endpoint, page+1, err)
		}
		if len(skipped) > 0 {
			c.logger.Warn("fastly "+fd.title+" historical values skipped", "service", s.name, "count", len(skipped), "first", skipped[0])
		}
		if next == "" {
			break
		}
		if seen[next] {
			return nil, fmt.Errorf("fastly: %s: next_cursor %q repeats", endpoint, next)
		}
		seen[next] = true
		q.Set("cursor", next)
	}
	if len(h.after) > 0 {
		if f := c.env.Clock.RejectFuture(h.after); f.N > 0 {
			c.logger.Warn("fastly "+fd.title+" historical values stamped ahead of our clock rejected", append([]any{"service", s.name}, f.Attrs()...)...)
		}
	}
	c.reportHistRenamed(s, fd, h.renamed)
	return h.points(c.env.Prefix, s.name, fd.name, nil), nil
}

// reportHistRenamed warns about and counts in renamed_locations the POP
// codes a historical query wrote under "pop_<node>", as the real-time
// inspector does: once per service, feed and code for the collector's
// life (not every run: the name does not change), bounded like the
// real-time aggregator's interned names.
func (c *Collector) reportHistRenamed(s service, fd *inspectFeed, codes []string) {
	if len(codes) == 0 {
		return
	}
	st := c.inspectState()
	st.mu.Lock()
	var fresh []string
	for _, code := range codes {
		k := s.id + "\x00" + fd.name + "\x00" + code
		if st.renamed[k] {
			continue
		}
		if len(st.renamed) < maxNames {
			st.renamed[k] = true
		}
		fresh = append(fresh, code)
	}
	st.mu.Unlock()
	for _, code := range fresh {
		c.logger.Warn("fastly "+fd.title+" historical POP named like a reserved location; written under another name",
			"service", s.name, "pop", code, "location", inspectPOP([]byte(code)))
	}
	c.env.Clock.Count(collectors.RenamedLocations, len(fresh))
}

// collectInspectors reads the inspector feeds of every service that has
// them for w and emits their points; it returns one error per failed read.
func (c *Collector) collectInspectors(ctx context.Context, svcs []service, w collectors.Window, e collectors.Emitter) []error {
	var errs []error
	for _, fd := range c.inspectFeeds() {
		for _, s := range svcs {
			if !c.hasFeed(ctx, s, fd) {
				if _, err := c.entitled(ctx, fd.product); err != nil {
					errs = append(errs, fmt.Errorf("service %s (%s): %w", s.name, s.id, err))
					break // one entitlement error per feed and run is enough
				}
				continue
			}
			pts, err := c.inspectHistorical(ctx, s, fd, w)
			if err != nil {
				errs = append(errs, fmt.Errorf("service %s (%s) %s: %w", s.name, s.id, fd.title, err))
				if ctx.Err() != nil {
					return errs
				}
				continue
			}
			if len(pts) > 0 {
				if err := e.Emit(ctx, collectors.Batch{Points: pts}); err != nil {
					return append(errs, fmt.Errorf("fastly: emit: %w", err))
				}
			}
		}
	}
	return errs
}
