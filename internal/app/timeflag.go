package app

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// parseTime reads RFC 3339, Unix seconds, "now" or a relative "-2h"/"-7d".
func parseTime(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "now":
		return now, nil
	case strings.HasPrefix(s, "-"):
		if strings.HasSuffix(s, "d") {
			if n, err := strconv.Atoi(s[1 : len(s)-1]); err == nil {
				return now.Add(-time.Duration(n) * 24 * time.Hour), nil
			}
		}
		if d, err := time.ParseDuration(s[1:]); err == nil {
			return now.Add(-d), nil
		}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0).UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time (use RFC 3339, Unix seconds, now, or -2h / -7d)", s)
}
