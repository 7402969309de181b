package rum

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"strings"
)

// MaxTimingMS is the largest timing accepted; anything outside
// [0, MaxTimingMS] is dropped (a browser's clock or an attacker).
const MaxTimingMS = 120000

// maxSize bounds a transfer size (bytes) taken for throughput: 10 GB.
const maxSize = 10e9

// Entry is one beacon entry as the browser (rum.js) sends it: one page
// (navigation) or one resource. Timings are milliseconds; a nil pointer
// is a value the browser did not give.
type Entry struct {
	Provider  string   `json:"provider"`
	Service   string   `json:"service"`
	POP       string   `json:"pop"`
	Cache     string   `json:"cache"`    // HIT or MISS
	Protocol  string   `json:"protocol"` // nextHopProtocol, not kept
	PageGroup string   `json:"page_group"`
	DNS       *float64 `json:"dns_ms"`
	Connect   *float64 `json:"connect_ms"`
	TLS       *float64 `json:"tls_ms"`
	TTFB      *float64 `json:"ttfb_ms"`
	Download  *float64 `json:"download_ms"`
	Size      *float64 `json:"size"`
}

// errNotBeacon is a body that is neither a JSON array nor NDJSON of
// objects.
var errNotBeacon = errors.New("not a JSON array or newline-delimited JSON objects")

// parseBeacon splits body into entries: a JSON array of objects, or one
// JSON object per line. At most max entries are decoded; extra counts the
// rest, bad the entries that were not objects of the right shape. An
// error means the body as a whole is not a beacon.
func parseBeacon(body []byte, max int) (entries []Entry, extra, bad int, err error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, 0, 0, errNotBeacon
	}
	if trimmed[0] == '[' {
		var raw []json.RawMessage
		if err := json.Unmarshal(trimmed, &raw); err != nil {
			return nil, 0, 0, errNotBeacon
		}
		for i, r := range raw {
			if i >= max {
				extra = len(raw) - max
				break
			}
			if e, ok := decodeEntry(r); ok {
				entries = append(entries, e)
			} else {
				bad++
			}
		}
		return entries, extra, bad, nil
	}
	if trimmed[0] != '{' {
		return nil, 0, 0, errNotBeacon
	}
	sc := bufio.NewScanner(bytes.NewReader(trimmed))
	sc.Buffer(make([]byte, 0, 4096), len(trimmed)+1)
	n := 0
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		if n >= max {
			extra++
			continue
		}
		n++
		if e, ok := decodeEntry(line); ok {
			entries = append(entries, e)
		} else {
			bad++
		}
	}
	if sc.Err() != nil {
		return nil, 0, 0, errNotBeacon
	}
	return entries, extra, bad, nil
}

func decodeEntry(b []byte) (Entry, bool) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return Entry{}, false
	}
	var e Entry
	if err := json.Unmarshal(b, &e); err != nil {
		return Entry{}, false
	}
	return e, true
}

// cleanPOP upper-cases a POP code and keeps it only when it is 1–16 bytes
// of [A-Z0-9-] (CloudFront's "PHX50-C2", Fastly's "LHR"); "" otherwise.
func cleanPOP(s string) string {
	if s == "" || len(s) > 16 {
		return ""
	}
	s = strings.ToUpper(s)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return ""
		}
	}
	return s
}

// cacheHit maps a cache status to hit (1), miss (0) or unknown (-1).
func cacheHit(s string) int {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "HIT", "TCP_HIT", "TCP_MEM_HIT", "REVALIDATED", "STALE", "UPDATING":
		return 1
	case "MISS", "TCP_MISS", "EXPIRED", "BYPASS", "DYNAMIC", "PASS":
		return 0
	}
	return -1
}

// timingOK reports a timing within [0, MaxTimingMS].
func timingOK(v float64) bool { return v >= 0 && v <= MaxTimingMS }
