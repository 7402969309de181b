package admin

import (
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// ContentType is the Prometheus text exposition format 0.0.4.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// The self-metrics' Prometheus types, by family name without the
// "cdnmetrics_" prefix and "_total" suffix. A self-metric not listed here
// (one added later) is exposed as untyped under its derived name rather
// than given a type it may not have.
var (
	counters = map[string]bool{
		"collector_points": true, "collector_failures": true, "collector_skipped_runs": true,
		"collector_rejected_values": true, "collector_rejected_future": true, "collector_rejected_too_old": true,
		"collector_checkpoint_resets": true, "collector_path_clashes": true, "collector_renamed_locations": true,
		"sink_sent_points": true, "sink_resent_points": true, "sink_send_errors": true, "sink_reconnects": true,
		"sink_dropped_invalid_points": true, "sink_spooled_points": true, "sink_replayed_points": true,
		"sink_spool_dropped_points": true, "sink_spool_corrupt_points": true, "sink_lost_points": true,
		"sink_spool_errors": true, "hook_rejected_future": true,
	}
	gauges = map[string]string{
		// Renamed to say its unit, as Prometheus names do.
		"collector_last_success": "collector_last_success_timestamp_seconds",
		"collector_run_seconds":  "collector_run_seconds",
		"sink_spool_points":      "sink_spool_points", "sink_spool_bytes": "sink_spool_bytes",
		"sink_queue_points": "sink_queue_points", "sink_connected": "sink_connected",
		"sink_unspooled_points": "sink_unspooled_points",
	}
)

// family is one metric name with its samples.
type family struct {
	name, typ, help string
	samples         []sample
}

type sample struct {
	collector string // label value; "" for no label
	value     float64
}

// WriteMetrics writes the self-metric points under <prefix>.cdnmetrics. as
// Prometheus text exposition format 0.0.4: <prefix>.cdnmetrics.collector.
// <name>.<metric> becomes cdnmetrics_collector_<metric>{collector="<name>"},
// <prefix>.cdnmetrics.<a>.<b> becomes cdnmetrics_<a>_<b>; counters end in
// _total. Samples carry no timestamp (they are current). Other points are
// left out.
func WriteMetrics(w io.Writer, prefix string, pts []schema.Point) error {
	root := prefix + ".cdnmetrics."
	if prefix == "" {
		root = "cdnmetrics."
	}
	fams := map[string]*family{}
	seen := map[string]bool{}
	for _, p := range pts {
		rest, ok := strings.CutPrefix(p.Path, root)
		if !ok || rest == "" {
			continue
		}
		parts := strings.Split(rest, ".")
		var s sample
		if parts[0] == "collector" && len(parts) >= 3 {
			s.collector = parts[1]
			parts = append([]string{"collector"}, parts[2:]...)
		}
		base := sanitizeName(strings.Join(parts, "_"))
		name, typ := "cdnmetrics_"+base, "untyped"
		switch {
		case counters[base], strings.HasPrefix(base, "rum_"): // every rum.* self-metric counts since the start (internal/rum.Counters)
			name, typ = name+"_total", "counter"
		case gauges[base] != "":
			name, typ = "cdnmetrics_"+gauges[base], "gauge"
		}
		key := name + "\x00" + s.collector
		if seen[key] {
			continue // the same series twice: the first wins, as a scrape must not repeat one
		}
		seen[key] = true
		s.value = p.Value
		f := fams[name]
		if f == nil {
			f = &family{name: name, typ: typ, help: "cdnmetrics self-metric " + rest}
			if s.collector != "" {
				f.help = "cdnmetrics self-metric " + root[:len(root)-1] + ".collector.<collector>." + strings.Join(parts[1:], ".")
			}
			fams[name] = f
		}
		f.samples = append(f.samples, s)
	}
	names := make([]string, 0, len(fams))
	for n := range fams {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		f := fams[n]
		sort.Slice(f.samples, func(i, j int) bool { return f.samples[i].collector < f.samples[j].collector })
		b.WriteString("# HELP " + f.name + " " + escapeHelp(f.help) + "\n")
		b.WriteString("# TYPE " + f.name + " " + f.typ + "\n")
		for _, s := range f.samples {
			b.WriteString(f.name)
			if s.collector != "" {
				b.WriteString(`{collector="` + escapeLabel(s.collector) + `"}`)
			}
			b.WriteString(" " + formatValue(s.value) + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// sanitizeName makes s a valid metric name part: [a-zA-Z0-9_:], anything
// else becomes '_' (Graphite nodes may hold '-').
func sanitizeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '_' || r == ':' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			return r
		}
		return '_'
	}, s)
}

// escapeLabel escapes a label value: backslash, double quote and newline.
func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

// escapeHelp escapes HELP text: backslash and newline.
func escapeHelp(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(s)
}

func formatValue(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
