package hook

import (
	"log/slog"
	"sync"
	"time"

	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// RejectReasons are why a request is rejected, as the self-metrics
// <prefix>.cdnmetrics.hook.rejected_<reason> name them (event times ahead
// of our clock are counted apart, in rejected_future):
//   - method: not a POST;
//   - unauthenticated: no credential, or a wrong bearer token or signature;
//   - busy: every slot for unauthenticated bodies taken (503);
//   - too_large: body above max_body_bytes;
//   - unreadable: the body could not be read (the sender went away);
//   - malformed: an authenticated body that does not parse or check.
var RejectReasons = []string{"method", "unauthenticated", "busy", "too_large", "unreadable", "malformed"}

// rejectLogEvery bounds the log lines of one reason: a hostile sender
// must not be able to flood the log. The first rejection of a reason is
// logged; after that at most one line per reason per rejectLogEvery, with
// the number not logged since the previous line. The counters are exact.
const rejectLogEvery = time.Minute

// rejectLog holds the counters and the log rate limit.
type rejectLog struct {
	mu       sync.Mutex
	counts   map[string]int64     // rejections per reason since start
	last     map[string]time.Time // when the reason was last logged
	unlogged map[string]int64     // rejections of the reason since then
}

// reject counts a request rejected for reason ("future": counted by
// checkClock already) and logs msg with args when the rate limit allows.
func (h *Handler) reject(log *slog.Logger, reason, msg string, args ...any) {
	now := h.now()
	r := &h.rejects
	r.mu.Lock()
	if r.counts == nil {
		r.counts, r.last, r.unlogged = map[string]int64{}, map[string]time.Time{}, map[string]int64{}
	}
	if reason != "future" {
		r.counts[reason]++
	}
	last, logged := r.last[reason]
	// A clock stepped back does not silence a reason for long.
	emit := !logged || now.Sub(last) >= rejectLogEvery || now.Before(last)
	var skipped int64
	if emit {
		skipped, r.unlogged[reason], r.last[reason] = r.unlogged[reason], 0, now
	} else {
		r.unlogged[reason]++
	}
	r.mu.Unlock()
	if !emit {
		return
	}
	if skipped > 0 {
		args = append(args, "not_logged_since_last", skipped, "counter", "hook.rejected_"+reason)
	}
	log.Warn(msg, args...)
}

// Rejected returns the requests rejected per reason since start, for each
// of RejectReasons (zeros included); the daemon writes them as
// self-metrics.
func (h *Handler) Rejected() map[string]int64 {
	h.rejects.mu.Lock()
	defer h.rejects.mu.Unlock()
	out := make(map[string]int64, len(RejectReasons))
	for _, r := range RejectReasons {
		out[r] = h.rejects.counts[r]
	}
	return out
}

// RejectedPoints returns Rejected as <prefix>.cdnmetrics.hook.rejected_<reason>
// points stamped now.
func (h *Handler) RejectedPoints(prefix string, now time.Time) []schema.Point {
	counts := h.Rejected()
	pts := make([]schema.Point, 0, len(RejectReasons))
	for _, r := range RejectReasons {
		pts = append(pts, schema.Point{Path: schema.Path(prefix, schema.NamespaceSelf, "hook", "rejected_"+r), Value: float64(counts[r]), Time: now.Unix()})
	}
	return pts
}
