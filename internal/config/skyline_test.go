package config

import (
	"testing"

	"github.com/cdnmetrics/cdnmetrics/internal/skyline"
)

// TestSkylineSectionMatchesFeed keeps the [skyline] section and the feed's
// options one shape (the conversion compiles only while the fields match),
// with the same default and the same verdicts.
func TestSkylineSectionMatchesFeed(t *testing.T) {
	if got, want := skyline.Options(Default().Skyline), skyline.DefaultOptions(); got != want {
		t.Errorf("default [skyline] = %+v, skyline.DefaultOptions() = %+v", got, want)
	}
	for _, o := range []SkylineOptions{
		{Queue: 1},
		{Queue: 0},
		{PickleAddress: "h:2024", Queue: 5},
		{PickleAddress: "nohostport", Queue: 5},
		{UDPAddress: "h:2025", Filter: "(", Queue: 5},
	} {
		cfgErr, feedErr := o.Validate(), skyline.Options(o).Validate()
		if (cfgErr == nil) != (feedErr == nil) || (cfgErr != nil && cfgErr.Error() != feedErr.Error()) {
			t.Errorf("%+v: config says %v, feed says %v", o, cfgErr, feedErr)
		}
		if o.Enabled() != skyline.Options(o).Enabled() {
			t.Errorf("%+v: Enabled differs", o)
		}
	}
}
