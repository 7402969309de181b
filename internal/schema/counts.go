package schema

import "fmt"

// Field is one additive count a vendor can report for an interval.
type Field uint8

// The count fields, in the order they are emitted.
const (
	Requests Field = iota
	Hits
	Misses
	Passes
	EdgeBytes
	OriginRequests
	OriginBytes
	Status2xx
	Status3xx
	Status4xx
	Status5xx
	Errors
	NumFields // number of fields; not a field
)

var fieldNames = [NumFields]string{
	Requests:       "requests",
	Hits:           "hits",
	Misses:         "misses",
	Passes:         "passes",
	EdgeBytes:      "edge_bytes",
	OriginRequests: "origin_requests",
	OriginBytes:    "origin_bytes",
	Status2xx:      "status_2xx",
	Status3xx:      "status_3xx",
	Status4xx:      "status_4xx",
	Status5xx:      "status_5xx",
	Errors:         "errors",
}

// String returns the metric name of f as it appears in Graphite paths.
func (f Field) String() string {
	if f < NumFields {
		return fieldNames[f]
	}
	return fmt.Sprintf("field(%d)", uint8(f))
}

// Fields returns every count field in emission order.
func Fields() []Field {
	fs := make([]Field, NumFields)
	for i := range fs {
		fs[i] = Field(i)
	}
	return fs
}

// Counts holds the additive counts of one interval. A field that was never
// set is unknown, which is different from zero: ratios need known
// denominators, and an unknown field is not emitted.
type Counts struct {
	v     [NumFields]float64
	known uint16
}

// Set stores v for f and marks it known.
func (c *Counts) Set(f Field, v float64) {
	c.v[f] = v
	c.known |= 1 << f
}

// Add adds v to f and marks it known. Vendors that document an absent field
// as zero (Fastly real-time) call Add with 0 to record that.
func (c *Counts) Add(f Field, v float64) {
	c.v[f] += v
	c.known |= 1 << f
}

// Get returns the value of f and whether it is known.
func (c *Counts) Get(f Field) (float64, bool) {
	return c.v[f], c.known&(1<<f) != 0
}

// Has reports whether f is known.
func (c *Counts) Has(f Field) bool { return c.known&(1<<f) != 0 }

// Merge adds every known field of o into c.
func (c *Counts) Merge(o *Counts) {
	for f := Field(0); f < NumFields; f++ {
		if o.Has(f) {
			c.Add(f, o.v[f])
		}
	}
}

// Empty reports whether no field is known.
func (c *Counts) Empty() bool { return c.known == 0 }

// Reset clears every field.
func (c *Counts) Reset() { *c = Counts{} }
