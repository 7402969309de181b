package schema

import "strings"

// Sanitize lower-cases s and turns every byte outside [a-z0-9_-] into '_',
// so a vendor's service name can never add a level to a Graphite path.
// An empty name becomes "_".
func Sanitize(s string) string {
	if s == "" {
		return "_"
	}
	clean := true
	for i := 0; i < len(s); i++ {
		if !okByte(s[i]) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	b := make([]byte, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if !okByte(c) {
			c = '_'
		}
		b[i] = c
	}
	return string(b)
}

func okByte(c byte) bool {
	return ('a' <= c && c <= 'z') || ('0' <= c && c <= '9') || c == '_' || c == '-'
}

// Path joins the prefix and each element, sanitising every element (the
// prefix may itself contain dots: "ops.cdn").
func Path(prefix string, elems ...string) string {
	var b strings.Builder
	n := len(prefix)
	for _, e := range elems {
		n += len(e) + 1
	}
	b.Grow(n)
	b.WriteString(prefix)
	for _, e := range elems {
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(Sanitize(e))
	}
	return b.String()
}
