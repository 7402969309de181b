package fastly

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
)

// The JSON scanner: a vendor-agnostic tokenizer over a byte slice that the
// Fastly decoders (decode.go) drive. It knows JSON, not Fastly.

// maxDepth bounds nesting so hostile input cannot exhaust the stack; it is
// encoding/json's limit, so both accept the same documents.
const maxDepth = 10000

// scanner is a minimal JSON tokenizer over a byte slice. After the first
// error every method is a no-op that returns zero values, so callers check
// s.err once at the end of a loop iteration.
type scanner struct {
	b     []byte
	i     int
	err   error
	depth int
}

func (s *scanner) fail(format string, args ...any) {
	if s.err == nil {
		s.err = fmt.Errorf("json at offset %d: %s", s.i, fmt.Sprintf(format, args...))
	}
	s.i = len(s.b)
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c > ' ':
			return // the common case first: compact JSON has no spaces
		case c == ' ' || c == '\n' || c == '\t' || c == '\r':
			s.i++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, or 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scanner) consume(c byte) bool {
	if s.peek() == c {
		s.i++
		return true
	}
	if s.i >= len(s.b) {
		s.fail("unexpected end, want %q", c)
	} else {
		s.fail("unexpected %q, want %q", s.b[s.i], c)
	}
	return false
}

// end checks that only white space follows the top-level value.
func (s *scanner) end() {
	if s.peek() != 0 && s.err == nil {
		s.fail("data after the top-level value")
	}
}

// plain marks the bytes a string can hold without a closer look (not a
// quote, a backslash or a control character): the string scan is one table
// lookup per byte.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// special reports whether one of the eight bytes in x (a word-at-a-time
// test, no branch per byte) is a control character, a quote or a
// backslash. It may also report true for a byte after such a byte (borrow),
// never false for one: str then looks byte by byte.
func special(x uint64) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	q := x ^ (lo * '"')
	bs := x ^ (lo * '\\')
	return ((x-lo*0x20)&^x|(q-lo)&^q|(bs-lo)&^bs)&hi != 0
}

// str reads a string and returns its raw bytes between the quotes; esc
// reports backslash escapes (see unquote).
func (s *scanner) str() (raw []byte, esc bool) {
	if !s.consume('"') {
		return nil, false
	}
	b, start, i := s.b, s.i, s.i
	for {
		// Eight bytes at a time while none of them needs attention.
		for i+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[i:])
			if special(x) {
				break
			}
			i += 8
		}
		for i < len(b) && plain[b[i]] {
			i++
		}
		if i >= len(b) {
			s.i = i
			s.fail("unterminated string")
			return nil, false
		}
		switch b[i] {
		case '"':
			s.i = i + 1
			return b[start:i], esc
		case '\\':
			esc = true
			i += 2
		default:
			s.i = i
			s.fail("control character in string")
			return nil, false
		}
	}
}

// unquote decodes a string that had escapes (rare in these APIs: the slow
// path may allocate).
func unquote(raw []byte) (string, bool) {
	q := make([]byte, 0, len(raw)+2)
	q = append(append(append(q, '"'), raw...), '"')
	var out string
	if err := json.Unmarshal(q, &out); err != nil {
		return "", false
	}
	return out, true
}

// key reads an object key and its colon. Keys with escapes are unescaped.
func (s *scanner) key() []byte {
	raw, esc := s.str()
	if esc && s.err == nil {
		u, ok := unquote(raw)
		if !ok {
			s.fail("bad escape in key")
			return nil
		}
		raw = []byte(u)
	}
	s.consume(':')
	return raw
}

// next is called after a value inside an object or array: it consumes the
// comma and reports true when another element follows, or consumes the
// closing byte and reports false.
func (s *scanner) next(closing byte) bool {
	switch s.peek() {
	case ',':
		s.i++
		return true
	case closing:
		s.i++
		s.depth--
		return false
	}
	if s.err == nil {
		s.fail("want ',' or %q", closing)
	}
	return false
}

// open consumes '{' or '[' and reports whether the container has elements;
// an empty one is consumed whole.
func (s *scanner) open(opening, closing byte) bool {
	if !s.consume(opening) {
		return false
	}
	s.depth++
	if s.depth > maxDepth {
		s.fail("nested deeper than %d", maxDepth)
		return false
	}
	if s.peek() == closing {
		s.i++
		s.depth--
		return false
	}
	return s.err == nil
}

// numRaw scans a JSON number and returns its bytes.
func (s *scanner) numRaw() []byte {
	s.ws()
	start := s.i
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	digits := func() int {
		n := 0
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			s.i++
			n++
		}
		return n
	}
	if digits() == 0 {
		s.fail("bad number")
		return nil
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if digits() == 0 {
			s.fail("bad number")
			return nil
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if digits() == 0 {
			s.fail("bad number")
			return nil
		}
	}
	return s.b[start:s.i]
}

// num reads a number. Counts are integers: those up to 15 digits are
// converted exactly without strconv.
func (s *scanner) num() float64 {
	raw := s.numRaw()
	if s.err != nil {
		return 0
	}
	if len(raw) <= 15 {
		var n int64
		neg := raw[0] == '-'
		d := raw
		if neg {
			d = raw[1:]
		}
		fast := true
		for _, c := range d {
			if c < '0' || c > '9' {
				fast = false
				break
			}
			n = n*10 + int64(c-'0')
		}
		if fast {
			if neg {
				return -float64(n)
			}
			return float64(n)
		}
	}
	// The grammar was checked above, so only a range error is possible:
	// it yields ±Inf, which callers reject.
	v, _ := strconv.ParseFloat(string(raw), 64)
	return v
}

// literal consumes true, false or null.
func (s *scanner) literal() {
	for _, lit := range [...]string{"true", "false", "null"} {
		if bytes.HasPrefix(s.b[s.i:], []byte(lit)) {
			s.i += len(lit)
			return
		}
	}
	s.fail("unexpected %q", s.b[s.i])
}

// isNull consumes a null and reports whether there was one.
func (s *scanner) isNull() bool {
	if s.peek() == 'n' && bytes.HasPrefix(s.b[s.i:], []byte("null")) {
		s.i += 4
		return true
	}
	return false
}

// skip consumes any value.
func (s *scanner) skip() {
	switch c := s.peek(); {
	case c == '{':
		if s.open('{', '}') {
			for {
				s.key()
				s.skip()
				if !s.next('}') {
					break
				}
			}
		}
	case c == '[':
		if s.open('[', ']') {
			for {
				s.skip()
				if !s.next(']') {
					break
				}
			}
		}
	case c == '"':
		s.str()
	case c == '-' || (c >= '0' && c <= '9'):
		s.numRaw()
	case c == 't' || c == 'f' || c == 'n':
		s.literal()
	case c == 0:
		s.fail("unexpected end")
	default:
		s.fail("unexpected %q", c)
	}
}

// int reads an integer value (epoch seconds, delays); false for anything
// else, which is consumed.
func (s *scanner) int() (int64, bool) {
	c := s.peek()
	if c != '-' && (c < '0' || c > '9') {
		s.skip()
		return 0, false
	}
	raw := s.numRaw()
	if s.err != nil || bytes.ContainsAny(raw, ".eE") {
		return 0, false
	}
	v, err := strconv.ParseInt(string(raw), 10, 64)
	return v, err == nil
}
