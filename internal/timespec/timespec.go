// Package timespec reads the times users type on the command line
// (--from, --to, --until, --when): graphite-web's from/until forms, Unix
// seconds and RFC 3339, so the same "-7d" means the same everywhere.
package timespec

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Parse reads a time the way graphite-web's from/until do, resolved
// against now: "now", a relative offset ("-7d", "-24h", "-30min", "-90s",
// "-2w", "-1mon" = 30 days, "-1y" = 365 days, also "now-1h"), Unix
// seconds, or RFC 3339. "m" alone is taken as minutes (graphite rejects
// it; everybody types it). An offset may also be a Go duration ("-1.5h").
func Parse(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, fmt.Errorf("empty time")
	}
	if s == "now" {
		return now, nil
	}
	if rest, ok := strings.CutPrefix(s, "now"); ok && (strings.HasPrefix(rest, "-") || strings.HasPrefix(rest, "+")) {
		s = rest
	}
	if s[0] == '-' || s[0] == '+' {
		d, err := parseOffset(s[1:])
		if err != nil {
			return time.Time{}, fmt.Errorf("%q: %w", s, err)
		}
		if s[0] == '-' {
			d = -d
		}
		return now.Add(d), nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0).UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time (use -7d, -24h, -30min, now, RFC 3339 or Unix seconds)", s)
}

const maxOffset = 100 * 365 * 24 * time.Hour

// parseOffset reads "7d", "30min", "1h30min" (graphite allows sums), or
// failing that a positive Go duration ("1.5h", what cdnmetrics' own flags
// took before they shared this parser).
func parseOffset(s string) (time.Duration, error) {
	d, err := graphiteOffset(s)
	if err != nil {
		if gd, gerr := time.ParseDuration(s); gerr == nil && gd > 0 && gd <= maxOffset {
			return gd, nil
		}
	}
	return d, err
}

// graphiteOffset reads graphite-web's offset syntax.
func graphiteOffset(s string) (time.Duration, error) {
	if s == "" {
		return 0, fmt.Errorf("missing offset")
	}
	var total time.Duration
	for s != "" {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 || i > 9 {
			return 0, fmt.Errorf("want a number then a unit (s, min, h, d, w, mon, y)")
		}
		n, _ := strconv.Atoi(s[:i])
		s = s[i:]
		j := 0
		for j < len(s) && s[j] >= 'a' && s[j] <= 'z' {
			j++
		}
		unit, err := unitOf(s[:j])
		if err != nil {
			return 0, err
		}
		s = s[j:]
		total += time.Duration(n) * unit
		if time.Duration(n) > maxOffset/unit || total > maxOffset {
			return 0, fmt.Errorf("offset larger than 100 years")
		}
	}
	return total, nil
}

func unitOf(u string) (time.Duration, error) {
	day := 24 * time.Hour
	switch u {
	case "s", "sec", "secs", "second", "seconds":
		return time.Second, nil
	case "m", "min", "mins", "minute", "minutes":
		return time.Minute, nil
	case "h", "hour", "hours":
		return time.Hour, nil
	case "d", "day", "days":
		return day, nil
	case "w", "week", "weeks":
		return 7 * day, nil
	case "mon", "month", "months":
		return 30 * day, nil
	case "y", "year", "years":
		return 365 * day, nil
	}
	return 0, fmt.Errorf("unknown unit %q (use s, min, h, d, w, mon, y)", u)
}
