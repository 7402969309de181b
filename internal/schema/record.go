package schema

// LocationAll is the location of a provider's aggregate over all POPs or
// regions.
const LocationAll = "all"

// Record is the counts one vendor reported for one service and location over
// one interval [Start, Start+Step).
type Record struct {
	Provider string // "fastly", "akamai", ...
	Service  string // service name (or id when it has no name)
	Location string // POP code, region, or LocationAll
	Start    int64  // vendor's interval start, Unix seconds
	Step     int64  // interval length in seconds
	Counts
}

// Gauge is a value that is not a count and is not summed into "all":
// probe timings, deltas, self-metrics. It is emitted as it is.
type Gauge struct {
	Provider string
	Service  string
	Location string
	Metric   string
	Time     int64
	Value    float64
}

// Point is one Graphite datapoint: a full path, a value and a Unix time.
type Point struct {
	Path  string
	Value float64
	Time  int64
}
