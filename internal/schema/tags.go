package schema

import "strings"

// Tag modes of [graphite] tags: which forms of a provider metric the sink
// writes.
const (
	TagsOff  = "off"  // the dotted tree only (the default)
	TagsBoth = "both" // the dotted path and the tagged series
	TagsOnly = "only" // the tagged series only
)

// The tag names of a tagged provider metric.
const (
	TagProvider = "provider"
	TagService  = "service"
	TagLocation = "location"
)

// TaggedPath is the Graphite (>= 1.1) tagged-series name of one unified
// metric: "<prefix>.<metric>;provider=…;service=…;location=…". Every value
// goes through the same sanitiser as Path, so the tagged series and
// the dotted path name the same thing, and TagValue keeps it a valid
// Graphite tag value.
func TaggedPath(prefix, provider, service, location, metric string) string {
	var b strings.Builder
	b.WriteString(Path(prefix, metric))
	for _, t := range [...][2]string{{TagProvider, provider}, {TagService, service}, {TagLocation, location}} {
		b.WriteByte(';')
		b.WriteString(t[0])
		b.WriteByte('=')
		b.WriteString(TagValue(Sanitize(t[1])))
	}
	return b.String()
}

// Tagged returns the tagged-series name of the point at path when path is
// a provider metric (<prefix>.<provider>.<service>.<location>.<metric>, as
// Path builds it), and false for everything else: self-metrics,
// events, anomaly scores, other shapes. Path elements hold no dots
// (Sanitize), so the split is unambiguous.
func Tagged(prefix, path string) (string, bool) {
	rest := path
	if prefix != "" {
		if !strings.HasPrefix(path, prefix+".") {
			return "", false
		}
		rest = path[len(prefix)+1:]
	}
	el := strings.Split(rest, ".")
	if len(el) != 4 {
		return "", false
	}
	if IsNamespace(el[0]) {
		return "", false
	}
	for _, e := range el {
		if e == "" || Sanitize(e) != e {
			return "", false
		}
	}
	return TaggedPath(prefix, el[0], el[1], el[2], el[3]), true
}

// TagValue makes s a valid Graphite tag value (graphite's
// TaggedSeries.validateTagAndValue): not empty, no ';' (the tag separator),
// not starting with '~' (graphite-web reads it as a regex match). Bytes
// carbon's line protocol cannot carry (space, control) and the characters
// graphite forbids in tag names ('!', '^', '=') become '_' as well, so a
// value can be used in seriesByTag expressions without escaping.
func TagValue(s string) string {
	if s == "" {
		return "_"
	}
	b := []byte(s)
	for i, c := range b {
		if c <= ' ' || c == 0x7f || c == ';' || c == '!' || c == '^' || c == '=' || (i == 0 && c == '~') {
			b[i] = '_'
		}
	}
	return string(b)
}

// ValidTagMode reports whether m is a [graphite] tags value.
func ValidTagMode(m string) bool { return m == TagsOff || m == TagsBoth || m == TagsOnly }
