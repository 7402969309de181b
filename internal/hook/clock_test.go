package hook

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
)

// No sender's clock is trusted beyond ours: an event time more than the
// tolerance (default 5m) ahead of the hook's clock is refused with 400
// naming the reason and counted, whether it is a generic "when", GitHub's
// pushed_at (a push) or created_at (a deployment); within the tolerance it
// is accepted as sent.
func TestHookRefusesEventTimesAheadOfOurClock(t *testing.T) {
	bearer := map[string]string{"Authorization": "Bearer " + secret}
	push := readFile(t, "github-push.json") // pushed_at 1795608000 = now - 5m
	pushAt := func(secs int64) []byte {
		return bytes.Replace(push, []byte("1795608000"), []byte(fmt.Sprint(secs)), 1)
	}
	deployment := readFile(t, "github-deployment.json")
	deploymentAt := func(ts time.Time) []byte {
		return bytes.Replace(deployment, []byte("2026-11-20T10:15:30Z"), []byte(ts.UTC().Format(time.RFC3339)), 1)
	}
	if !bytes.Contains(push, []byte("1795608000")) || !bytes.Contains(deployment, []byte("2026-11-20T10:15:30Z")) {
		t.Fatal("fixtures changed: no pushed_at or created_at to replace")
	}
	github := func(kind string, body []byte) map[string]string {
		return map[string]string{"X-GitHub-Event": kind, "X-Hub-Signature-256": sign(body, secret)}
	}
	cases := []struct {
		name     string
		body     []byte
		hdr      map[string]string
		code     int
		rejected int64
	}{
		{"when 2100", []byte(`{"when":"2100-01-01T00:00:00Z"}`), bearer, 400, 1},
		{"when 6m ahead", []byte(fmt.Sprintf(`{"when":%d}`, now.Add(6*time.Minute).Unix())), bearer, 400, 1},
		{"when 4m ahead", []byte(fmt.Sprintf(`{"when":%d}`, now.Add(4*time.Minute).Unix())), bearer, 202, 0},
		{"pushed_at 2100", pushAt(4102444800), nil, 400, 1},
		{"pushed_at 10m ahead", pushAt(now.Add(10 * time.Minute).Unix()), nil, 400, 1},
		{"pushed_at 1m ahead", pushAt(now.Add(time.Minute).Unix()), nil, 202, 0},
		{"created_at 2100", deploymentAt(time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)), nil, 400, 1},
		{"created_at 1h ahead", deploymentAt(now.Add(time.Hour)), nil, 400, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, t.TempDir())
			hdr := c.hdr
			if hdr == nil {
				kind := "push"
				if bytes.Contains(c.body, []byte(`"deployment"`)) {
					kind = "deployment"
				}
				hdr = github(kind, c.body)
			}
			code, msg := f.do(t, "POST", c.body, hdr)
			if code != c.code {
				t.Fatalf("got %d %q, want %d", code, msg, c.code)
			}
			if got := f.h.RejectedFuture(); got != c.rejected {
				t.Errorf("RejectedFuture = %d, want %d", got, c.rejected)
			}
			if c.code == 400 {
				if !strings.Contains(msg, "ahead of our clock") || f.rec.n() != 0 {
					t.Errorf("refusal %q does not say why, or the event reached the callback", msg)
				}
			} else if f.rec.n() != 1 {
				t.Errorf("accepted event did not reach the callback")
			}
		})
	}
}

// WithClockSkewTolerance is the config's clock_skew_tolerance.
func TestHookClockSkewToleranceOption(t *testing.T) {
	f := newFixture(t, t.TempDir())
	WithClockSkewTolerance(time.Minute)(f.h)
	body := []byte(fmt.Sprintf(`{"when":%d}`, now.Add(2*time.Minute).Unix()))
	if code, msg := f.do(t, "POST", body, map[string]string{"Authorization": "Bearer " + secret}); code != 400 || f.h.RejectedFuture() != 1 {
		t.Fatalf("2m ahead with a 1m tolerance: %d %q, rejected %d", code, msg, f.h.RejectedFuture())
	}
}
