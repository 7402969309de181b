package fastly

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
)

// The decoders below walk the JSON bytes once and keep only the fields
// cdnmetrics maps (map.go); everything else is skipped without being
// materialised. A real-time response for a busy service is ~100 POPs ×
// ~150 fields per second, polled every second per service: decoding it
// into maps (or even into a 150-field struct through reflection) costs an
// order of magnitude more CPU and garbage than this scan. The result of a
// decode aliases the input bytes and is only valid until the next decode
// into the same value.

// stats decodes one measurements object into st (reset first). Only a
// structural problem (not an object) disqualifies the entry (st.bad);
// values are read one by one (see measurement); null is treated as absent.
func (s *scanner) stats(st *stats) {
	st.reset()
	if s.isNull() {
		return
	}
	if s.peek() != '{' {
		s.skip()
		st.bad = "measurements are not an object"
		return
	}
	if !s.open('{', '}') {
		return
	}
	for {
		if !fastMembers || !s.fastMember(st) {
			k := s.key()
			if f := lookupField(k); f >= 0 {
				s.measurement(f, st)
			} else {
				s.skip()
			}
		}
		if s.err != nil || !s.next('}') {
			return
		}
	}
}

// fastMember reads one member of a measurements object when it has the
// shape nearly every member of a real answer has: compact `"name":` with
// a printable-ASCII name without escapes, then either an integer (no
// leading zero, up to 15 digits) followed by ',' or '}', or any other
// value, left to the general path. It reports false, having consumed
// nothing, when the name is not of that shape; the general path (key,
// measurement, skip) then reads the member, so both paths accept and
// reject the same documents. At ~15 000 members per answer (100 POPs ×
// 150 fields), the general path's layered peek/consume calls were most of
// the decoding time (README "Benchmarks").
func (s *scanner) fastMember(st *stats) bool {
	b, i := s.b, s.i
	if i >= len(b) || b[i] != '"' {
		return false
	}
	j := i + 1
	for j < len(b) && keyByte[b[j]] {
		j++
	}
	if j+1 >= len(b) || b[j] != '"' || b[j+1] != ':' {
		return false
	}
	name := b[i+1 : j]
	f := -1
	if len(name) < len(mappedLen) && mappedLen[len(name)] && mappedFirst[name[0]] {
		f = lookupField(name)
	}
	j += 2
	// An integer: the common value. Anything else (a fraction, an
	// exponent, a sign, a leading zero, an object, null, bad input) goes
	// to the general value readers from the value's first byte.
	k := j
	var n int64
	for k < len(b) && k-j < 15 && b[k] >= '0' && b[k] <= '9' {
		n = n*10 + int64(b[k]-'0')
		k++
	}
	if k > j && k < len(b) && (b[k] == ',' || b[k] == '}') && (b[j] != '0' || k == j+1) {
		if f >= 0 {
			st.set(f, float64(n))
		}
		s.i = k
		return true
	}
	s.i = j
	if f >= 0 {
		s.measurement(f, st)
	} else {
		s.skip()
	}
	return true
}

// fastMembers switches fastMember on; benchmarks turn it off to measure
// what it saves, and tests to check both paths read the same.
var fastMembers = true

// keyByte marks the bytes fastMember takes into a name: printable ASCII
// but the quote and the backslash (escapes need unquoting, and non-ASCII
// is left to the general path).
var keyByte = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// mappedLen and mappedFirst hold the lengths and first bytes of the
// mapped measurement names: most names of an answer are not mapped, and
// these two lookups reject them before lookupField's string switch.
var mappedLen, mappedFirst = func() (l [64]bool, f [256]bool) {
	for _, n := range vendorNames {
		if n == "" || len(n) >= len(l) {
			panic("fastly: mapped name " + n + " does not fit the fast lookup")
		}
		l[len(n)], f[n[0]] = true, true
	}
	return l, f
}()

// measurement reads the value of mapped field f into st. A number is kept
// as read, even when negative or out of range, and anything else that is
// not null becomes NaN: judging values is the pipeline's value check, which
// makes only that field unknown (one warning per batch, counted in
// rejected_values) and keeps the rest of the row. null counts as absent.
func (s *scanner) measurement(f int, st *stats) {
	switch c := s.peek(); {
	case c == '-' || (c >= '0' && c <= '9'):
		v := s.num()
		if s.err == nil {
			st.set(f, v)
		}
	case s.isNull():
	default:
		s.skip()
		st.set(f, math.NaN())
	}
}

// rtEntry is one POP's measurements in one second.
type rtEntry struct {
	pop []byte // aliases the response body
	st  stats
}

// rtRecord is one second of a real-time response.
type rtRecord struct {
	recorded    int64
	hasRecorded bool
	agg         stats
	hasAgg      bool
	first, end  int    // its entries: frame.entries[first:end]
	bad         string // a structural problem that disqualifies the second
}

// rtFrame is one decoded real-time response. It is reused across
// responses, so steady-state decoding allocates nothing.
type rtFrame struct {
	timestamp      int64
	hasTimestamp   bool
	aggregateDelay int64
	hasDelay       bool
	errText        []byte // "No data available, please retry"; aliases the body
	records        []rtRecord
	entries        []rtEntry
}

func (f *rtFrame) reset() {
	f.timestamp, f.hasTimestamp, f.aggregateDelay, f.hasDelay, f.errText = 0, false, 0, false, nil
	f.records = f.records[:0]
	f.entries = f.entries[:0]
}

// release drops the frame's references into the response body (POP
// names), keeping its timestamp and capacity: with 100 services each
// waiting a second for its next answer, holding on to the last ~365 kB
// body per service would keep tens of MB alive for nothing.
func (f *rtFrame) release() {
	f.errText = nil
	clear(f.entries[:cap(f.entries)])
	f.entries = f.entries[:0]
}

// decodeRT decodes a GET /v1/channel/{id}/ts/{ts} response into f. Top-level
// keys are matched case-insensitively (Fastly capitalises them; clients
// have long relied on encoding/json's case folding); measurement names are
// exact. A bad second is kept with its reason in rtRecord.bad; an error is
// returned only when the response as a whole is unusable.
func decodeRT(body []byte, f *rtFrame) error {
	f.reset()
	s := scanner{b: body}
	if s.peek() != '{' {
		s.fail("response is not an object")
		return s.err
	}
	if s.open('{', '}') {
		for {
			k := s.key()
			switch {
			case bytes.EqualFold(k, []byte("Data")):
				// A repeated key replaces, as with encoding/json.
				f.records, f.entries = f.records[:0], f.entries[:0]
				s.rtData(f)
			case bytes.EqualFold(k, []byte("Timestamp")):
				if s.isNull() {
					break
				}
				v, ok := s.int()
				if !ok && s.err == nil {
					s.fail("Timestamp is not an integer")
				}
				f.timestamp, f.hasTimestamp = v, true
			case bytes.EqualFold(k, []byte("AggregateDelay")):
				if s.isNull() {
					break
				}
				v, ok := s.int()
				if !ok && s.err == nil {
					s.fail("AggregateDelay is not an integer")
				}
				f.aggregateDelay, f.hasDelay = v, true
			case bytes.EqualFold(k, []byte("Error")):
				if s.peek() == '"' {
					raw, esc := s.str()
					if esc {
						if u, ok := unquote(raw); ok {
							raw = []byte(u)
						}
					}
					f.errText = raw
				} else {
					s.skip()
				}
			default:
				s.skip()
			}
			if s.err != nil || !s.next('}') {
				break
			}
		}
	}
	s.end()
	return s.err
}

func (s *scanner) rtData(f *rtFrame) {
	if s.isNull() {
		return
	}
	if s.peek() != '[' {
		s.fail("Data is not an array")
		return
	}
	if !s.open('[', ']') {
		return
	}
	for {
		f.records = append(f.records, rtRecord{})
		r := &f.records[len(f.records)-1]
		r.first, r.end = len(f.entries), len(f.entries)
		s.rtRecord(f, r)
		if s.err != nil || !s.next(']') {
			return
		}
	}
}

func (s *scanner) rtRecord(f *rtFrame, r *rtRecord) {
	if s.peek() != '{' {
		s.skip()
		r.bad = "record is not an object"
		return
	}
	if !s.open('{', '}') {
		return
	}
	for {
		k := s.key()
		switch {
		case bytes.EqualFold(k, []byte("recorded")):
			v, ok := s.int()
			if ok && v > 0 {
				r.recorded, r.hasRecorded = v, true
			} else if r.bad == "" {
				r.bad = "recorded is not a positive integer"
			}
		case bytes.EqualFold(k, []byte("aggregated")):
			s.stats(&r.agg)
			r.hasAgg = true
		case bytes.EqualFold(k, []byte("datacenter")):
			r.first = len(f.entries) // a repeated key replaces, as in encoding/json
			if s.isNull() {
				r.end = r.first
				break
			}
			if s.peek() != '{' {
				s.skip()
				r.bad = "datacenter is not an object"
				break
			}
			if s.open('{', '}') {
				for {
					pop := s.key()
					if len(f.entries) < cap(f.entries) {
						f.entries = f.entries[:len(f.entries)+1]
					} else {
						f.entries = append(f.entries, rtEntry{})
					}
					e := &f.entries[len(f.entries)-1]
					e.pop = pop
					s.stats(&e.st)
					if s.err != nil || !s.next('}') {
						break
					}
				}
			}
			r.end = len(f.entries)
		default:
			s.skip()
		}
		if s.err != nil || !s.next('}') {
			return
		}
	}
}

// histRow is one historical stats row.
type histRow struct {
	start    int64
	hasStart bool
	st       stats
	bad      string
}

// histAnswer is a decoded historical stats envelope.
type histAnswer struct {
	status    string
	msg       string
	hasData   bool
	rows      []histRow
	hasStatus bool
}

// decodeHistorical decodes a GET /stats/service/{id} answer:
// {"data":[rows],"meta":{…},"status":"success","msg":null}.
func decodeHistorical(body []byte) (*histAnswer, error) {
	a := &histAnswer{}
	s := scanner{b: body}
	if s.peek() != '{' {
		s.fail("answer is not an object")
		return nil, s.err
	}
	if s.open('{', '}') {
		for {
			k := s.key()
			switch string(k) {
			case "data":
				a.hasData = true
				s.histData(a)
			case "status":
				a.hasStatus = true
				if s.peek() == '"' {
					raw, _ := s.str()
					a.status = string(raw)
				} else {
					s.skip()
					a.status = "(not a string)"
				}
			case "msg":
				start := s.i
				if !s.isNull() {
					s.skip()
					a.msg = string(bytes.TrimSpace(s.b[start:s.i]))
				}
			default:
				s.skip()
			}
			if s.err != nil || !s.next('}') {
				break
			}
		}
	}
	s.end()
	if s.err != nil {
		return nil, s.err
	}
	return a, nil
}

func (s *scanner) histData(a *histAnswer) {
	if s.isNull() {
		return
	}
	if s.peek() != '[' {
		s.fail("data is not an array")
		return
	}
	if !s.open('[', ']') {
		return
	}
	for {
		a.rows = append(a.rows, histRow{})
		r := &a.rows[len(a.rows)-1]
		s.histRow(r)
		if s.err != nil || !s.next(']') {
			return
		}
	}
}

// histRow decodes one row: measurements as in real time, plus start_time.
func (s *scanner) histRow(r *histRow) {
	if s.peek() != '{' {
		s.skip()
		r.bad = "row is not an object"
		return
	}
	if !s.open('{', '}') {
		return
	}
	for {
		k := s.key()
		if string(k) == keyStartTime {
			v, ok := s.int()
			r.start, r.hasStart = v, ok
			if !ok && r.bad == "" {
				r.bad = keyStartTime + " is not an integer"
			}
		} else if f := lookupField(k); f >= 0 {
			s.measurement(f, &r.st)
		} else {
			s.skip() // hit_ratio (number or null), service_id, timings…
		}
		if s.err != nil || !s.next('}') {
			return
		}
	}
}

// apiService is one entry of GET /service.
type apiService struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Version   int             `json:"version"`
	DeletedAt json.RawMessage `json:"deleted_at"`
}

// decodeServiceList decodes one page of GET /service (a bare array). It is
// read every few minutes, so encoding/json is fine here.
func decodeServiceList(body []byte) ([]apiService, error) {
	var svcs []apiService
	if err := json.Unmarshal(body, &svcs); err != nil {
		return nil, fmt.Errorf("decode: %w (body starts %q)", err, head(body))
	}
	return svcs, nil
}

func head(b []byte) string {
	if len(b) > 80 {
		b = b[:80]
	}
	return string(b)
}
