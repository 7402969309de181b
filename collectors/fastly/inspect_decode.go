package fastly

import (
	"bytes"
	"math"
)

// The inspector real-time decoder drives the same scanner as decodeRT
// (scan.go) over GET /v1/origins/{id}/ts/{ts} and /v1/domains/{id}/ts/{ts}:
//
//	{"Data":[{"recorded":N,
//	          "aggregated":{"<name>":{measurements}},
//	          "datacenter":{"<POP>":{"<name>":{measurements}}}}],
//	 "Timestamp":N,"AggregateDelay":N,"Error":"…"}
//
// It keeps only the fields the feed's lookup maps, aliases the body for
// names, and reuses its slices across responses: steady state allocates
// nothing. A response has ~100 POPs × origins (or domains) entries per
// second per service, one more level than the channel stream.

// iEntry is one origin's or domain's measurements in one second, in one
// POP (pop set) or in Fastly's aggregate over all POPs (pop nil).
type iEntry struct {
	pop  []byte // aliases the body
	name []byte // aliases the body (unescaped names are copied)
	v    ivals
}

// iRecord is one second of an inspector response.
type iRecord struct {
	recorded         int64
	hasRecorded      bool
	hasAgg           bool
	aggFirst, aggEnd int    // aggregate entries: frame.entries[aggFirst:aggEnd]
	dcFirst, dcEnd   int    // per-POP entries
	bad              string // a structural problem that disqualifies the second
}

// iFrame is one decoded inspector response, reused across responses.
type iFrame struct {
	timestamp      int64
	hasTimestamp   bool
	aggregateDelay int64
	hasDelay       bool
	errText        []byte
	records        []iRecord
	entries        []iEntry
}

func (f *iFrame) reset() {
	f.timestamp, f.hasTimestamp, f.aggregateDelay, f.hasDelay, f.errText = 0, false, 0, false, nil
	f.records = f.records[:0]
	f.entries = f.entries[:0]
}

// release drops the references into the body, keeping the capacity (see
// rtFrame.release).
func (f *iFrame) release() {
	f.errText = nil
	clear(f.entries[:cap(f.entries)])
	f.entries = f.entries[:0]
}

// decodeInspect decodes an inspector response into f with the feed's field
// lookup. Top-level keys match case-insensitively, like decodeRT; every
// other key is exact. A bad second is kept with its reason; an error means
// the response as a whole is unusable.
func decodeInspect(body []byte, lookup func([]byte) int, f *iFrame) error {
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
				f.records, f.entries = f.records[:0], f.entries[:0]
				s.inspectData(f, lookup)
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

func (s *scanner) inspectData(f *iFrame, lookup func([]byte) int) {
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
		f.records = append(f.records, iRecord{})
		r := &f.records[len(f.records)-1]
		n := len(f.entries)
		r.aggFirst, r.aggEnd, r.dcFirst, r.dcEnd = n, n, n, n
		s.inspectRecord(f, len(f.records)-1, lookup)
		if s.err != nil || !s.next(']') {
			return
		}
	}
}

// inspectRecord decodes record ri (an index: entries are appended while it
// is read, records are not).
func (s *scanner) inspectRecord(f *iFrame, ri int, lookup func([]byte) int) {
	r := &f.records[ri]
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
			first := len(f.entries)
			why := s.inspectByName(f, nil, lookup)
			r.aggFirst, r.aggEnd, r.hasAgg = first, len(f.entries), true
			if why != "" && r.bad == "" {
				r.bad = "aggregated " + why
			}
		case bytes.EqualFold(k, []byte("datacenter")):
			first := len(f.entries)
			if s.isNull() {
				r.dcFirst, r.dcEnd = first, first
				break
			}
			if s.peek() != '{' {
				s.skip()
				if r.bad == "" {
					r.bad = "datacenter is not an object"
				}
				break
			}
			if s.open('{', '}') {
				for {
					pop := s.key()
					if why := s.inspectByName(f, pop, lookup); why != "" {
						// One POP's nonsense costs only that POP: an
						// entry without a name carries the reason.
						f.entries = append(f.entries, iEntry{pop: pop, v: ivals{bad: why}})
					}
					if s.err != nil || !s.next('}') {
						break
					}
				}
			}
			r.dcFirst, r.dcEnd = first, len(f.entries)
		default:
			s.skip()
		}
		if s.err != nil || !s.next('}') {
			return
		}
	}
}

// inspectByName decodes {"<name>":{measurements},…} into entries of pop;
// a non-empty result says why the object as a whole is unusable. An entry
// whose measurements are unusable keeps its reason in v.bad.
func (s *scanner) inspectByName(f *iFrame, pop []byte, lookup func([]byte) int) string {
	if s.isNull() {
		return ""
	}
	if s.peek() != '{' {
		s.skip()
		return "is not an object of names"
	}
	if !s.open('{', '}') {
		return ""
	}
	for {
		name := s.key()
		if len(f.entries) < cap(f.entries) {
			f.entries = f.entries[:len(f.entries)+1]
		} else {
			f.entries = append(f.entries, iEntry{})
		}
		e := &f.entries[len(f.entries)-1]
		e.pop, e.name = pop, name
		s.inspectVals(&e.v, lookup)
		if s.err != nil || !s.next('}') {
			return ""
		}
	}
}

// inspectVals decodes one measurements object. As in the channel decoder
// (see measurement), a number is kept as read and any other non-null value
// becomes NaN: the value is judged later, one field at a time.
func (s *scanner) inspectVals(v *ivals, lookup func([]byte) int) {
	*v = ivals{}
	if s.isNull() {
		return
	}
	if s.peek() != '{' {
		s.skip()
		v.bad = "measurements are not an object"
		return
	}
	if !s.open('{', '}') {
		return
	}
	for {
		k := s.key()
		if fi := lookup(k); fi >= 0 {
			switch c := s.peek(); {
			case c == '-' || (c >= '0' && c <= '9'):
				x := s.num()
				if s.err == nil {
					v.v[fi] = x
				}
			case s.isNull():
			default:
				s.skip()
				v.v[fi] = math.NaN()
			}
		} else {
			s.skip()
		}
		if s.err != nil || !s.next('}') {
			return
		}
	}
}
