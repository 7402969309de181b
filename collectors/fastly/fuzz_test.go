package fastly

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cdnmetrics/cdnmetrics/collectors/collectorstest"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// FuzzRTResponse: any body decodes without panicking; aggregation keeps its
// bounds and never emits a negative count; and whenever encoding/json reads
// the body unambiguously (valid ASCII JSON without duplicate keys), the
// fast decoder reads the same values from it.
func FuzzRTResponse(f *testing.F) {
	f.Add(collectorstest.ReadTestdata(f, "rt-channel-ts-response.json"))
	f.Add(collectorstest.ReadTestdata(f, "rt-channel-ts-nodata.json"))
	f.Add([]byte(`{"Data":[{"aggregated":{"requests":-1},"recorded":5}],"Timestamp":9}`))
	f.Add([]byte(`{"data":[{"datacenter":{"A\u00c9":{"requ\u0065sts":1e2,"x":[{}]}},"recorded":60}],"timestamp":99,"aggregatedelay":1}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var fr rtFrame
		err := decodeRT(body, &fr)
		sameAsGeneralPath(t, body, &fr, err)
		if ref, ok := stdlibRT(body); ok {
			if err != nil {
				t.Fatalf("encoding/json reads it, decodeRT fails: %v", err)
			}
			compareFrame(t, &fr, ref)
		}
		if err != nil {
			return
		}
		agg := newAggregator("s", 10*time.Second)
		for range 2 { // a replay must not panic or double-count into negatives either
			res := agg.add(&fr)
			for _, r := range res.recs {
				for _, fld := range schema.Fields() {
					if v, _ := r.Get(fld); v < 0 {
						t.Fatalf("negative %s emitted", fld)
					}
				}
			}
			if len(agg.buckets) > maxOpen+agg.keep {
				t.Fatalf("%d buckets", len(agg.buckets))
			}
		}
	})
}

// sameAsGeneralPath checks that decodeRT's fast path for measurement
// members (fastMember) reads body exactly as the general path does, valid
// JSON or not: same error or none, same seconds, POPs and values.
func sameAsGeneralPath(t *testing.T, body []byte, fast *rtFrame, fastErr error) {
	t.Helper()
	fastMembers = false
	var gen rtFrame
	genErr := decodeRT(body, &gen)
	fastMembers = true
	if fmt.Sprint(fastErr) != fmt.Sprint(genErr) {
		t.Fatalf("fast path error %v, general path error %v", fastErr, genErr)
	}
	// %v prints NaN as NaN, so values the value check will reject compare too.
	if a, b := fmt.Sprintf("%+v", *fast), fmt.Sprintf("%+v", gen); a != b {
		t.Fatalf("fast path read\n%s\ngeneral path read\n%s", a, b)
	}
}

// refRT is Fastly's real-time answer as encoding/json reads it: the
// reference decodeRT is checked against.
type refRT struct {
	Data []struct {
		Datacenter map[string]map[string]any `json:"datacenter"`
		Aggregated map[string]any            `json:"aggregated"`
		Recorded   int64                     `json:"recorded"`
	} `json:"Data"`
	Timestamp      int64  `json:"Timestamp"`
	AggregateDelay int64  `json:"AggregateDelay"`
	Error          string `json:"Error"`
}

// stdlibRT decodes body with encoding/json when the reading is unambiguous.
func stdlibRT(body []byte) (*refRT, bool) {
	for _, c := range body {
		if c >= utf8.RuneSelf { // encoding/json folds some non-ASCII letters onto ASCII keys
			return nil, false
		}
	}
	if !json.Valid(body) || hasDuplicateKeys(body) {
		return nil, false
	}
	// encoding/json reads a top-level null into a struct as "nothing";
	// decodeRT refuses any answer that is not an object (it is not one of
	// Fastly's), so only objects are compared.
	if t := bytes.TrimLeft(body, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return nil, false
	}
	var ref refRT
	if err := json.Unmarshal(body, &ref); err != nil {
		return nil, false // a type mismatch: decodeRT may be more forgiving per second
	}
	return &ref, true
}

// hasDuplicateKeys reports an object with a key twice (case-insensitively
// at any level, to be safe): encoding/json merges those, decodeRT replaces.
func hasDuplicateKeys(body []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	type frame struct {
		keys  map[string]bool
		isObj bool
		want  bool // next string token is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return false
		}
		if err != nil {
			return true
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				if top != nil && top.isObj {
					top.want = true
				}
				stack = append(stack, &frame{keys: map[string]bool{}, isObj: v == '{', want: v == '{'})
			default:
				stack = stack[:len(stack)-1]
				if len(stack) > 0 && stack[len(stack)-1].isObj {
					stack[len(stack)-1].want = true
				}
			}
		default:
			if top != nil && top.isObj {
				if top.want {
					k := strings.ToLower(v.(string))
					if top.keys[k] {
						return true
					}
					top.keys[k] = true
					top.want = false
				} else {
					top.want = true
				}
			}
		}
	}
}

func compareFrame(t *testing.T, f *rtFrame, ref *refRT) {
	t.Helper()
	if f.timestamp != ref.Timestamp || f.aggregateDelay != ref.AggregateDelay || string(f.errText) != ref.Error || len(f.records) != len(ref.Data) {
		t.Fatalf("envelope differs: ts %d/%d delay %d/%d err %q/%q records %d/%d",
			f.timestamp, ref.Timestamp, f.aggregateDelay, ref.AggregateDelay, f.errText, ref.Error, len(f.records), len(ref.Data))
	}
	for i, d := range ref.Data {
		r := &f.records[i]
		if r.bad != "" {
			continue
		}
		if r.hasRecorded && r.recorded != d.Recorded {
			t.Fatalf("record %d recorded %d, want %d", i, r.recorded, d.Recorded)
		}
		if r.agg.bad == "" {
			if v, p, ok := refMeasurements(d.Aggregated); ok && (v != r.agg.v || p != r.agg.present) {
				t.Fatalf("record %d aggregated %v/%b, want %v/%b", i, r.agg.v, r.agg.present, v, p)
			}
		}
		if r.end-r.first != len(d.Datacenter) {
			t.Fatalf("record %d has %d POPs, want %d", i, r.end-r.first, len(d.Datacenter))
		}
		for _, e := range f.entries[r.first:r.end] {
			m, found := d.Datacenter[string(e.pop)]
			if !found {
				t.Fatalf("record %d: POP %q unknown to encoding/json", i, e.pop)
			}
			if e.st.bad != "" {
				continue
			}
			if v, p, ok := refMeasurements(m); ok && (v != e.st.v || p != e.st.present) {
				t.Fatalf("record %d POP %q: %v/%b, want %v/%b", i, e.pop, e.st.v, e.st.present, v, p)
			}
		}
	}
}

// refMeasurements reads the mapped fields from a decoded map; ok is false
// when one is not a number (decodeRT then marks the entry bad).
func refMeasurements(m map[string]any) (v [numVFields]float64, present uint32, ok bool) {
	for i, n := range vendorNames {
		x, has := m[n]
		if !has || x == nil {
			continue
		}
		f, num := x.(float64)
		if !num {
			return v, 0, false
		}
		v[i] = f
		present |= 1 << i
	}
	return v, present, true
}

// FuzzHistorical: any body parses without panicking; an error comes with no
// records; records are inside the window, on the minute, and once through
// the pipeline's value check (schema.Counts.Check) never negative nor with
// hits above requests.
func FuzzHistorical(f *testing.F) {
	f.Add(collectorstest.ReadTestdata(f, "stats-service-minute-response.constructed.json"))
	f.Add(collectorstest.ReadTestdata(f, "stats-aggregate-minute.json"))
	f.Add(collectorstest.ReadTestdata(f, "stats-service-minute-empty.json"))
	f.Add(collectorstest.ReadTestdata(f, "stats-service-field-bandwidth-day.json"))
	w := windowAll
	f.Fuzz(func(t *testing.T, body []byte) {
		recs, n, skipped, err := parseHistorical(body, "s", "all", w)
		if err != nil {
			if len(recs)+n+len(skipped) > 0 {
				t.Fatal("results with an error")
			}
			return
		}
		if len(recs) > n {
			t.Fatalf("%d records from %d rows", len(recs), n)
		}
		for _, r := range recs {
			if r.Start%60 != 0 || r.Step != 60 {
				t.Fatalf("record at %d step %d", r.Start, r.Step)
			}
			r.Check()
			for _, fld := range schema.Fields() {
				if v, _ := r.Get(fld); v < 0 {
					t.Fatalf("negative %s kept", fld)
				}
			}
			if h, _ := r.Get(schema.Hits); h > 0 {
				if q, ok := r.Get(schema.Requests); ok && h > q {
					t.Fatalf("hits %v > requests %v kept", h, q)
				}
			}
		}
	})
}

// FuzzServiceList: a page and its Link header never panic, and a next link
// is only followed to api_url's host.
func FuzzServiceList(f *testing.F) {
	f.Add(collectorstest.ReadTestdata(f, "service-list-page1.json"), `<https://api.fastly.com/service?direction=descend&page=3&per_page=100&sort=created>; rel="last", <https://api.fastly.com/service?direction=descend&page=2&per_page=100&sort=created>; rel="next"`)
	f.Add([]byte(`[{"id":"x","deleted_at":"2020"}]`), `</service?page=2>; rel="next"`)
	f.Add([]byte(`{}`), `<//evil.example/x>; rel=next`)
	base, _ := urlParse("https://api.fastly.com/service?page=1&per_page=100")
	f.Fuzz(func(t *testing.T, body []byte, link string) {
		_, _ = decodeServiceList(body)
		ref := linkNext([]string{link})
		if ref == "" {
			return
		}
		if u, err := resolveNext(base, ref); err == nil && (u.Host != base.Host || u.Scheme != base.Scheme) {
			t.Fatalf("would follow %q to %s", ref, u.Host)
		}
	})
}
