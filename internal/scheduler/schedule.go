package scheduler

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// MinInterval is the shortest interval a schedule may have. cron/v3 turns
// "@every 0s", "@every -5s" and "@every 500ms" into one second without a
// word, so anything below is refused rather than silently hammering a vendor.
const MinInterval = time.Second

// specParser reads 5-field cron specs and descriptors ("@every 1m",
// "@hourly"), with an optional leading "CRON_TZ=Area/City ".
var specParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseSchedule parses a collector's schedule. It is the one parser of
// schedules: the daemon runs what it returns and validate calls it, so a
// spec validate accepts is a spec run accepts. It refuses an empty spec,
// an "@every" below MinInterval or not in whole seconds (cron would round
// it), and a spec that never fires (such as "0 0 30 2 *").
func ParseSchedule(spec string) (cron.Schedule, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, errors.New("empty: give a cron spec (\"*/5 * * * *\") or an interval (\"@every 1m\")")
	}
	rest := spec
	if strings.HasPrefix(rest, "TZ=") || strings.HasPrefix(rest, "CRON_TZ=") {
		i := strings.IndexByte(rest, ' ')
		if i < 0 {
			// cron/v3 slices at the missing space and panics.
			return nil, fmt.Errorf("invalid cron spec %q: a time zone must be followed by a schedule", spec)
		}
		rest = strings.TrimSpace(rest[i:])
	}
	if d, ok := strings.CutPrefix(rest, "@every "); ok {
		every, err := time.ParseDuration(strings.TrimSpace(d))
		if err == nil && every < MinInterval {
			return nil, fmt.Errorf("invalid cron spec %q: the interval is below the minimum of %v", spec, MinInterval)
		}
		if err == nil && every%time.Second != 0 {
			return nil, fmt.Errorf("invalid cron spec %q: the interval must be whole seconds (cron would round it down to %v)", spec, every.Truncate(time.Second))
		}
	}
	s, err := specParser.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("invalid cron spec %q: %v", spec, err)
	}
	if s.Next(time.Now()).IsZero() {
		return nil, fmt.Errorf("invalid cron spec %q: it never fires", spec)
	}
	return s, nil
}
