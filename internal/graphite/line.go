package graphite

import (
	"bytes"
	"errors"
	"math"
	"strconv"

	graphite "github.com/marpaia/graphite-golang"

	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// MaxLineBytes is the longest line (including its '\n') the sink writes.
// carbon's line receiver (Twisted LineOnlyReceiver, MAX_LENGTH 16384) closes
// the connection without a word on a longer line and loses the rest of the
// stream, so such points are dropped and counted instead.
const MaxLineBytes = 16384

// Reasons a point is refused; counted in Stats.DroppedInvalid.
var (
	errEmptyPath  = errors.New("empty path")
	errBadPath    = errors.New("path contains whitespace or control bytes")
	errBadValue   = errors.New("value is NaN or infinite")
	errBadTime    = errors.New("timestamp is not positive")
	errLineLength = errors.New("line longer than 16 KiB")
)

// checkPoint reports why p cannot be written as one plaintext line, or nil.
// NaN is dropped by carbon anyway and ±Inf would be stored and then break
// every JSON reader (graphite renders it as 1e9999); a time <= 0 would be
// read by carbon as "now" (-1) or 1970, never the vendor's interval.
func checkPoint(p *schema.Point) error {
	if p.Path == "" {
		return errEmptyPath
	}
	for i := 0; i < len(p.Path); i++ {
		if c := p.Path[i]; c <= ' ' || c == 0x7f {
			return errBadPath
		}
	}
	if math.IsNaN(p.Value) || math.IsInf(p.Value, 0) {
		return errBadValue
	}
	if p.Time <= 0 {
		return errBadTime
	}
	// Longest value text is 24 bytes ("-2.2250738585072014e-308"), a
	// timestamp at most 19; check exactly only when it could matter.
	if len(p.Path)+2+24+19+1 > MaxLineBytes {
		var buf [64]byte
		n := len(strconv.AppendFloat(buf[:0], p.Value, 'g', -1, 64)) + len(strconv.AppendInt(buf[:0], p.Time, 10))
		if len(p.Path)+n+3 > MaxLineBytes {
			return errLineLength
		}
	}
	return nil
}

// formatValue is the one value format of the project: shortest text that
// parses back to the same float64 (Python's float() reads all of it).
func formatValue(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// toMetric converts a checked point into the library's Metric.
func toMetric(p *schema.Point) graphite.Metric {
	return graphite.Metric{Name: p.Path, Value: formatValue(p.Value), Timestamp: p.Time}
}

// AppendLine appends the plaintext line of p ("path value timestamp\n") to
// b. It does not check p; see Sink implementations for that.
func AppendLine(b []byte, p schema.Point) []byte {
	b = append(b, p.Path...)
	b = append(b, ' ')
	b = strconv.AppendFloat(b, p.Value, 'g', -1, 64)
	b = append(b, ' ')
	b = strconv.AppendInt(b, p.Time, 10)
	return append(b, '\n')
}

// appendMetric appends the line of an already formatted Metric.
func appendMetric(b []byte, m *graphite.Metric) []byte {
	b = append(b, m.Name...)
	b = append(b, ' ')
	b = append(b, m.Value...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, m.Timestamp, 10)
	return append(b, '\n')
}

// metricSize is the wire size of m's line.
func metricSize(m *graphite.Metric) int {
	n := 3 + len(m.Name) + len(m.Value)
	for t := m.Timestamp; t > 0; t /= 10 {
		n++
	}
	return n
}

// parseLines turns spooled lines back into Metrics. A line that does not
// parse (impossible unless the checksum collided) is skipped and counted.
func parseLines(data []byte, dst []graphite.Metric) ([]graphite.Metric, int) {
	bad := 0
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		var line []byte
		if i < 0 {
			line, data = data, nil
		} else {
			line, data = data[:i], data[i+1:]
		}
		if len(line) == 0 {
			continue
		}
		s2 := bytes.LastIndexByte(line, ' ')
		if s2 <= 0 {
			bad++
			continue
		}
		s1 := bytes.LastIndexByte(line[:s2], ' ')
		if s1 <= 0 {
			bad++
			continue
		}
		ts, err := strconv.ParseInt(string(line[s2+1:]), 10, 64)
		val := string(line[s1+1 : s2])
		v, err2 := strconv.ParseFloat(val, 64)
		if err != nil || err2 != nil || ts <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			bad++
			continue
		}
		dst = append(dst, graphite.Metric{Name: string(line[:s1]), Value: val, Timestamp: ts})
	}
	return dst, bad
}
