package config

import "github.com/cdnmetrics/cdnmetrics/internal/skyline"

// SkylineOptions is the [skyline] section: where and what the Skyline feed
// sends; with neither address set the feed is off. It is the feed's own
// options type, so the section's keys, its default and the verdicts of
// `validate` are those of skyline.New and cannot drift from them.
type SkylineOptions = skyline.Options
