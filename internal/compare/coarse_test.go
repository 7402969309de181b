package compare

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/config"
)

// A provider whose buckets are longer than the window (here cloudflare
// with hours, in a 150 s window) is reported "not comparable in this
// window" with the reason: no counts, no ratios, no share, no verdict —
// nothing prorated. The others are judged as before, and the shares are
// among them only.
func TestCoarseProviderNotComparable(t *testing.T) {
	f := &fake{find: findThree, counts: countsThree, probes: probesThree}
	srv := f.server(t)
	o := testOptions(srv.URL)
	o.Resolution = func(p string) time.Duration {
		return map[string]time.Duration{"cloudflare": time.Hour, "fastly": time.Minute}[p]
	}
	r, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	ak, cf, fa := r.Providers[0], r.Providers[1], r.Providers[2]
	if cf.Verdict != VerdictNotComparable || fa.Verdict != VerdictBaseline || ak.Verdict == VerdictNotComparable {
		t.Fatalf("verdicts %s %s %s", ak.Verdict, cf.Verdict, fa.Verdict)
	}
	hasNote(t, cf, "not comparable in this window: cloudflare reports in 1h0m0s buckets, longer than the 2m30s window")
	hasNote(t, cf, "without prorating")
	if len(cf.Failures) != 0 || len(cf.Reasons()) != 1 {
		t.Errorf("cloudflare reasons %q", cf.Reasons())
	}
	for label, v := range map[string]*float64{"requests": cf.Requests, "edge bytes": cf.EdgeBytes, "hit ratio": cf.HitRatio,
		"origin offload": cf.OriginOffload, "error ratio": cf.ErrorRatio, "request share": cf.RequestShare, "bytes share": cf.BytesShare} {
		null(t, "cloudflare "+label, v)
	}
	// Shares without cloudflare: requests fastly 3×100 + 2×50 = 400,
	// akamai 2×200 = 400 → ½ each.
	val(t, "fastly request share", fa.RequestShare, 0.5)
	val(t, "akamai request share", ak.RequestShare, 0.5)
	// Its TTFB samples lie inside the window and stay: 21, 42 (1e9999 skipped).
	val(t, "cloudflare ttfb p95", cf.TTFBP95, 42)
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil || !strings.Contains(buf.String(), `"verdict": "not comparable"`) {
		t.Errorf("json (%v):\n%s", err, buf.String())
	}
	buf.Reset()
	if err := r.WriteTable(&buf); err != nil || !strings.Contains(buf.String(), "not comparable in this window") {
		t.Errorf("table (%v):\n%s", err, buf.String())
	}

	// A window as long as the buckets compares cloudflare again; 50..200
	// is not on whole 150 s buckets, which is said.
	o.Resolution = func(p string) time.Duration { return 150 * time.Second }
	r, err = Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if r.Providers[1].Verdict == VerdictNotComparable || r.Providers[1].HitRatio == nil {
		t.Errorf("cloudflare in a window of one bucket: %+v", r.Providers[1])
	}
	hasNote(t, r.Providers[1], "window edges are not on whole 2m30s buckets")
	// On whole buckets (0..300 with 150 s buckets) nothing is said.
	o.From, o.Until = time.Unix(0, 0), time.Unix(300, 0)
	if r, err = Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	for _, n := range r.Providers[1].Reasons() {
		if strings.Contains(n, "window edges") {
			t.Errorf("aligned window: %q", n)
		}
	}
}

// A baseline that is not comparable in the window leaves nothing to judge
// against: a usage error saying why.
func TestCoarseBaselineIsUsageError(t *testing.T) {
	f := &fake{find: findThree, counts: countsThree, probes: probesThree}
	o := testOptions(f.server(t).URL)
	o.Resolution = func(p string) time.Duration { return time.Hour }
	_, err := Run(context.Background(), o)
	if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), `baseline "fastly" is not comparable in this window`) {
		t.Fatalf("err = %v", err)
	}
}

type stepOptions struct{ step time.Duration }

func (stepOptions) Validate(collectors.Env) []collectors.Problem { return nil }
func (stepOptions) Schedule() string                             { return "@every 1h" }

// Resolutions takes a provider's step from its configured collector's
// Timing, else from the registered collector's defaults.
func TestResolutions(t *testing.T) {
	f := collectors.Factory{
		Name:   "coarsetest",
		Decode: func(collectors.Section) (collectors.Options, error) { return stepOptions{2 * time.Hour}, nil },
		Timing: func(o collectors.Options) collectors.Timing { return collectors.Timing{Step: o.(stepOptions).step} },
	}
	collectors.Register(f)
	res := Resolutions(nil)
	if got := res("coarsetest"); got != 2*time.Hour {
		t.Errorf("registered default: %v", got)
	}
	if got := res("no-such-provider"); got != 0 {
		t.Errorf("unknown provider: %v", got)
	}
	cfg := &config.Config{Collectors: []config.Collector{{Name: "coarsetest", Factory: f, Options: stepOptions{3 * time.Hour}}}}
	if got := Resolutions(cfg)("coarsetest"); got != 3*time.Hour {
		t.Errorf("configured: %v", got)
	}
	// A Timing that cannot judge the options gives 0, not a panic.
	bad := f
	bad.Timing = func(o collectors.Options) collectors.Timing { panic("wrong options") }
	if got := Resolutions(&config.Config{Collectors: []config.Collector{{Name: "x", Factory: bad, Options: stepOptions{}}}})("x"); got != 0 {
		t.Errorf("panicking Timing: %v", got)
	}
}
