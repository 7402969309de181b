package fastly

import (
	"errors"
	"strconv"
	"strings"
)

// decodeRT is the real-time fast path: a scanner over the response bytes
// that reads the handful of fields cdnmetrics maps and skips the ~140
// others without allocating. A busy service sends one ~365 KB response a
// second, so this is the collector's hot loop (BenchmarkRTDecodeAggregate).
// Anything it does not understand makes it give up; parseRT then decodes
// the same bytes with encoding/json, which also words the error.
func decodeRT(b []byte) (*rtAnswer, error) {
	d := scanner{b: b}
	var a rtAnswer
	if !d.consume('{') {
		return nil, errFast
	}
	for first := true; ; first = false {
		d.ws()
		if d.peek() == '}' {
			d.i++
			break
		}
		if !first && !d.consume(',') {
			return nil, errFast
		}
		key, ok := d.key()
		if !ok {
			return nil, errFast
		}
		switch key {
		case "Data":
			if !d.data(&a) {
				return nil, errFast
			}
		case "Timestamp":
			v, ok := d.int()
			if !ok {
				return nil, errFast
			}
			a.Timestamp = v
		case "AggregateDelay":
			v, ok := d.int()
			if !ok {
				return nil, errFast
			}
			a.AggregateDelay = v
		case "Error":
			s, ok := d.str()
			if !ok {
				return nil, errFast
			}
			a.Error = s
		default:
			for _, k := range [...]string{"Data", "Timestamp", "AggregateDelay", "Error"} {
				if strings.EqualFold(key, k) || !lowerASCII(key) && foldsTo(key, k) {
					return nil, errFast // encoding/json would match it case-insensitively
				}
			}
			if !d.skip() {
				return nil, errFast
			}
		}
	}
	d.ws()
	if d.i != len(d.b) {
		return nil, errFast
	}
	return &a, nil
}

var errFast = errors.New("fast path declined")

// lowerASCII reports keys made only of bytes encoding/json cannot fold
// onto another field name's letters differently than we compare.
func lowerASCII(k string) bool {
	for i := 0; i < len(k); i++ {
		if c := k[i]; c >= 'A' && c <= 'Z' || c >= 0x80 {
			return false
		}
	}
	return true
}

// foldsTo is a conservative stand-in for Unicode folding: any non-ASCII key
// of a plausible length is treated as a possible match.
func foldsTo(key, name string) bool { return len(key) >= len(name)-2 && len(key) <= 3*len(name) }

type scanner struct {
	b []byte
	i int
}

func (d *scanner) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *scanner) peek() byte {
	d.ws()
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

func (d *scanner) consume(c byte) bool {
	if d.peek() == c {
		d.i++
		return true
	}
	return false
}

// rawStr returns the bytes of a string without escapes (escapes decline).
func (d *scanner) rawStr() ([]byte, bool) {
	if !d.consume('"') {
		return nil, false
	}
	start := d.i
	for d.i < len(d.b) {
		switch c := d.b[d.i]; {
		case c == '"':
			s := d.b[start:d.i]
			d.i++
			return s, true
		case c == '\\' || c < 0x20:
			return nil, false
		}
		d.i++
	}
	return nil, false
}

func (d *scanner) str() (string, bool) {
	s, ok := d.rawStr()
	return string(s), ok
}

// key reads `"name":` without allocating (the compiler does not allocate
// for string(bytes) in a switch or map lookup).
func (d *scanner) key() (string, bool) {
	s, ok := d.rawStr()
	if !ok || !d.consume(':') {
		return "", false
	}
	return unsafeString(s), true
}

// numBytes reads a number by JSON's grammar, -?(0|[1-9]d*)(.d+)?([eE][+-]?d+)?,
// and returns nil when there is none.
func (d *scanner) numBytes() []byte {
	d.ws()
	start, b := d.i, d.b
	i := d.i
	digits := func() int {
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	if i < len(b) && b[i] == '0' {
		i++
	} else if digits() == 0 {
		return nil
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return nil
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return nil
		}
	}
	d.i = i
	return b[start:i]
}

func (d *scanner) int() (int64, bool) {
	nb := d.numBytes()
	v, err := strconv.ParseInt(unsafeString(nb), 10, 64)
	return v, err == nil
}

func (d *scanner) float() (float64, bool) {
	nb := d.numBytes()
	if len(nb) == 0 {
		return 0, false
	}
	// Integers, by far the most common, without ParseFloat.
	var n int64
	for _, c := range nb {
		if c < '0' || c > '9' || n > 1<<53 {
			v, err := strconv.ParseFloat(unsafeString(nb), 64)
			return v, err == nil
		}
		n = n*10 + int64(c-'0')
	}
	return float64(n), true
}

// skip skips one JSON value of any kind.
func (d *scanner) skip() bool {
	switch d.peek() {
	case '"':
		_, ok := d.rawStrEsc()
		return ok
	case '{':
		d.i++
		if d.consume('}') {
			return true
		}
		for {
			if _, ok := d.rawStrEsc(); !ok || !d.consume(':') || !d.skip() {
				return false
			}
			if d.consume('}') {
				return true
			}
			if !d.consume(',') {
				return false
			}
		}
	case '[':
		d.i++
		if d.consume(']') {
			return true
		}
		for {
			if !d.skip() {
				return false
			}
			if d.consume(']') {
				return true
			}
			if !d.consume(',') {
				return false
			}
		}
	case 't', 'f', 'n':
		for _, lit := range []string{"true", "false", "null"} {
			if len(d.b)-d.i >= len(lit) && string(d.b[d.i:d.i+len(lit)]) == lit {
				d.i += len(lit)
				return true
			}
		}
		return false
	default:
		return len(d.numBytes()) > 0
	}
}

// rawStrEsc skips a string that may hold valid escapes.
func (d *scanner) rawStrEsc() ([]byte, bool) {
	if !d.consume('"') {
		return nil, false
	}
	start := d.i
	for d.i < len(d.b) {
		switch c := d.b[d.i]; {
		case c == '\\':
			if d.i+1 >= len(d.b) {
				return nil, false
			}
			switch d.b[d.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				d.i += 2
			case 'u':
				if d.i+6 > len(d.b) {
					return nil, false
				}
				for _, h := range d.b[d.i+2 : d.i+6] {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return nil, false
					}
				}
				d.i += 6
			default:
				return nil, false
			}
			continue
		case c == '"':
			s := d.b[start:d.i]
			d.i++
			return s, true
		case c < 0x20:
			return nil, false
		}
		d.i++
	}
	return nil, false
}

func (d *scanner) data(a *rtAnswer) bool {
	if d.peek() == 'n' {
		return d.skip()
	}
	if !d.consume('[') {
		return false
	}
	if d.consume(']') {
		return true
	}
	for {
		a.Data = append(a.Data, rtSecond{})
		if !d.second(&a.Data[len(a.Data)-1]) {
			return false
		}
		if d.consume(']') {
			return true
		}
		if !d.consume(',') {
			return false
		}
	}
}

func (d *scanner) second(s *rtSecond) bool {
	if !d.consume('{') {
		return false
	}
	if d.consume('}') {
		return true
	}
	for {
		key, ok := d.key()
		if !ok {
			return false
		}
		switch key {
		case "datacenter":
			if !d.datacenters(s) {
				return false
			}
		case "aggregated":
			if !d.stats(&s.Aggregated) {
				return false
			}
		case "recorded":
			v, ok := d.int()
			if !ok {
				return false
			}
			s.Recorded = v
		default:
			if !lowerASCII(key) {
				return false // could match a field case-insensitively: let encoding/json decide
			}
			if !d.skip() {
				return false
			}
		}
		if d.consume('}') {
			return true
		}
		if !d.consume(',') {
			return false
		}
	}
}

func (d *scanner) datacenters(s *rtSecond) bool {
	if !d.consume('{') {
		return false
	}
	if s.Datacenter == nil {
		s.Datacenter = make(map[string]stats, 128)
	}
	if d.consume('}') {
		return true
	}
	for {
		pop, ok := d.rawStr()
		if !ok || !d.consume(':') {
			return false
		}
		var st stats
		if !d.stats(&st) {
			return false
		}
		s.Datacenter[string(pop)] = st
		if d.consume('}') {
			return true
		}
		if !d.consume(',') {
			return false
		}
	}
}

// stats reads one datacenter/aggregated object: the mapped fields by name,
// everything else skipped.
func (d *scanner) stats(st *stats) bool {
	if !d.consume('{') {
		return false
	}
	if d.consume('}') {
		return true
	}
	for {
		key, ok := d.key()
		if !ok {
			return false
		}
		var dst *float64
		switch key {
		case "requests":
			dst = &st.Requests
		case "hits":
			dst = &st.Hits
		case "miss":
			dst = &st.Miss
		case "pass":
			dst = &st.Pass
		case "errors":
			dst = &st.Errors
		case "edge_resp_header_bytes":
			dst = &st.EdgeRespHeaderBytes
		case "edge_resp_body_bytes":
			dst = &st.EdgeRespBodyBytes
		case "origin_fetches":
			dst = &st.OriginFetches
		case "origin_fetch_resp_header_bytes":
			dst = &st.OriginFetchRespHeaderBytes
		case "origin_fetch_resp_body_bytes":
			dst = &st.OriginFetchRespBodyBytes
		case "status_2xx":
			dst = &st.Status2xx
		case "status_3xx":
			dst = &st.Status3xx
		case "status_4xx":
			dst = &st.Status4xx
		case "status_5xx":
			dst = &st.Status5xx
		}
		if dst == nil && !lowerASCII(key) {
			return false // could match a field case-insensitively: let encoding/json decide
		}
		if dst != nil {
			if d.peek() == 'n' { // null: as absent
				if !d.skip() {
					return false
				}
			} else if v, ok := d.float(); ok {
				*dst = v
			} else {
				return false
			}
		} else if !d.skip() {
			return false
		}
		if d.consume('}') {
			return true
		}
		if !d.consume(',') {
			return false
		}
	}
}
