package fastly

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors/collectorstest"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// added is what a subscriber has of one response: fold's result, and the
// records it builds from the buckets to write when it emits them.
type added struct {
	addResult
	recs []schema.Record
}

// add folds f in and builds the records to emit, as subscribe does.
func (a *aggregator) add(f *rtFrame) added {
	out := a.fold(f)
	return added{out, a.records(out.write...)}
}

func TestNoDataAnswerIsNotAnError(t *testing.T) {
	var f rtFrame
	if err := decodeRT(collectorstest.ReadTestdata(t, "rt-channel-ts-nodata.json"), &f); err != nil {
		t.Fatal(err)
	}
	// The Timestamp is still there and must be passed back.
	if !f.hasTimestamp || f.timestamp != 1635959484 || f.aggregateDelay != 9 || len(f.records) != 0 || !strings.HasPrefix(string(f.errText), "No data available") {
		t.Fatalf("frame %+v", f)
	}
	// fastly-exporter's short form, without a Timestamp.
	if err := decodeRT([]byte(`{"Error": "No data available, please retry"}`), &f); err != nil || f.hasTimestamp {
		t.Fatalf("short form: %v %+v", err, f)
	}
	res := newAggregator("www", time.Minute).add(&f)
	if len(res.recs) != 0 || len(res.skipped) != 0 {
		t.Fatalf("%+v", res)
	}
}

// A second that arrives after its bucket was emitted re-emits the whole
// bucket with the corrected totals (overwrite in Graphite), never just the
// late second, and never double-counting.
func TestLateSecondReEmitsWholeBucket(t *testing.T) {
	const b1 = 1603400940
	agg := newAggregator("www", time.Minute)
	agg.first = b1 - 60
	first := decodeAdd(t, agg, collectorstest.ReadTestdata(t, "rt-channel-ts-response.json"))
	want(t, find(t, first.recs, "all", b1), map[schema.Field]float64{schema.Requests: 3})
	late := decodeAdd(t, agg, []byte(`{"Data":[{"datacenter":{"TYO":{"requests":5,"hits":4,"miss":1,"edge_resp_body_bytes":100}},
		"aggregated":{"requests":5,"hits":4,"miss":1,"edge_resp_body_bytes":100},"recorded":1603400990}],"Timestamp":1603401014,"AggregateDelay":9}`))
	if len(late.recs) != 5 { // all, TYO, BWI, BUR, YUL: the whole bucket again
		t.Fatalf("late second re-emitted %d records (%s), want the whole bucket (5)", len(late.recs), locations(late.recs))
	}
	want(t, find(t, late.recs, "all", b1), map[schema.Field]float64{
		schema.Requests:    3 + 5,       // before + late
		schema.Hits:        2 + 4,       //
		schema.Misses:      0 + 1,       //
		schema.EdgeBytes:   11614 + 100, //
		schema.OriginBytes: 22345,       // unchanged
	})
	want(t, find(t, late.recs, "TYO", b1), map[schema.Field]float64{schema.Requests: 1 + 5, schema.EdgeBytes: 11372 + 100})
	want(t, find(t, late.recs, "BUR", b1), map[schema.Field]float64{schema.Requests: 2}) // untouched POP still sent
	// Re-adding nothing does not emit again.
	if again := decodeAdd(t, agg, []byte(`{"Data":[],"Timestamp":1603401015,"AggregateDelay":9}`)); len(again.recs) != 0 {
		t.Fatalf("unchanged bucket re-emitted: %s", locations(again.recs))
	}
}

// Memory is the open buckets plus a bounded number of emitted ones, however
// long the stream runs and however many distinct seconds it sees; a second
// older than everything kept is refused, not used to start a partial bucket.
func TestAggregatorMemoryBounded(t *testing.T) {
	agg := newAggregator("www", 10*time.Second)
	agg.first = 1
	base := int64(1700000000)
	for i := int64(0); i < 5000; i++ {
		sec := base + i
		body := fmt.Sprintf(`{"Data":[{"datacenter":{"P%d":{"requests":1}},"aggregated":{"requests":1},"recorded":%d}],"Timestamp":%d,"AggregateDelay":9}`, i%150, sec, sec+10)
		decodeAdd(t, agg, []byte(body))
		if len(agg.buckets) > agg.keep+3 {
			t.Fatalf("after %d seconds the aggregator holds %d buckets (keep %d)", i, len(agg.buckets), agg.keep)
		}
	}
	if agg.keep != 12 { // 2 min of 10 s buckets
		t.Errorf("keep = %d, want 12", agg.keep)
	}
	// 150 codes P0…P149 in the table; names also maps their nodes p0…p149.
	if len(agg.names) != 2*150 || len(agg.popNames) != 150 {
		t.Errorf("interned %d names (%d in the table), want 300 (150)", len(agg.names), len(agg.popNames))
	}
	res := decodeAdd(t, agg, []byte(fmt.Sprintf(`{"Data":[{"aggregated":{"requests":1},"recorded":%d}],"Timestamp":%d}`, base+100, base+5010)))
	if len(res.skipped) != 1 || !strings.Contains(res.skipped[0], "dropped") {
		t.Fatalf("very late second: %+v", res.skipped)
	}
	for _, r := range res.recs {
		if r.Start == base+100 {
			t.Fatalf("a partial bucket was re-created for the very late second: %+v", r)
		}
	}
	// Hostile timestamps spread over many buckets cannot open more than maxOpen.
	agg2 := newAggregator("www", time.Second)
	var b strings.Builder
	b.WriteString(`{"Data":[`)
	for i := 0; i < 200; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"aggregated":{"requests":1},"recorded":%d}`, 1700000000+i*1000)
	}
	b.WriteString(`],"Timestamp":1,"AggregateDelay":9}`)
	res = decodeAdd(t, agg2, []byte(b.String()))
	if len(agg2.buckets) > maxOpen || len(res.skipped) != 200-maxOpen {
		t.Fatalf("%d buckets open, %d skipped", len(agg2.buckets), len(res.skipped))
	}
}

// The oldest emitted bucket goes when the next interval opens, not ~11 s
// later when the previous one closes: an aggregator never holds more than
// keep+1 buckets, so a thousand services do not each hold one more over
// every close, and a late second is absorbed for keepFor (2 minutes) after
// its bucket's end. Figures by hand: 60 s buckets, keep 2, AggregateDelay
// 9 and grace 2, so minute m (starting base+60m) closes on the answer
// whose Timestamp is base+60m+71.
func TestOldestBucketDroppedWhenIntervalOpens(t *testing.T) {
	const base = int64(1700000040) // a minute start
	agg := newAggregator("www", time.Minute)
	agg.first = base
	second := func(rec, ts int64) added {
		t.Helper()
		return decodeAdd(t, agg, p1Second(ts, rec))
	}
	if agg.keep != 2 {
		t.Fatalf("keep = %d, want 2 at 60 s (keepFor)", agg.keep)
	}
	// Minutes 0-2: 0 and 1 closed (at Timestamps base+71 and +131), 2 open.
	for sec := base; sec < base+180; sec++ {
		second(sec, sec+1)
		if len(agg.buckets) > 3 {
			t.Fatalf("at second %d the aggregator holds %d buckets, want at most 3", sec-base, len(agg.buckets))
		}
	}
	if len(agg.buckets) != 3 || agg.buckets[0].start != base || !agg.buckets[1].emitted || agg.buckets[2].emitted {
		t.Fatalf("before minute 3: %d buckets, first at %d", len(agg.buckets), agg.buckets[0].start-base)
	}
	// Minute 3's first second opens its bucket while minute 2 is still
	// open: minute 0 goes now, 2 minutes after its end (before, it stayed
	// until minute 3 closed, at Timestamp base+251).
	second(base+180, base+181)
	if len(agg.buckets) != 3 || agg.buckets[0].start != base+60 {
		t.Fatalf("after minute 3 opened: %d buckets, first at +%d, want 3 from +60", len(agg.buckets), agg.buckets[0].start-base)
	}
	// A late second of minute 0 is refused; one of minute 1 (emitted at
	// base+131) still re-emits it whole, with the late request added: 60+1.
	res := second(base+30, base+182)
	if len(res.skipped) != 1 || !strings.Contains(res.skipped[0], "dropped") {
		t.Fatalf("late second of minute 0: skipped %q", res.skipped)
	}
	res = second(base+90, base+183)
	if len(res.skipped) != 0 || len(res.recs) != 2 {
		t.Fatalf("late second of minute 1: skipped %q, %d records, want 2 (all, P1)", res.skipped, len(res.recs))
	}
	want(t, find(t, res.recs, "all", base+60), map[schema.Field]float64{schema.Requests: 61})
	// Closing minute 2 (Timestamp base+191) drops nothing more: still 3.
	for sec := base + 184; sec < base+600; sec++ {
		second(sec, sec+1)
		if len(agg.buckets) > 3 {
			t.Fatalf("at second %d the aggregator holds %d buckets, want at most 3", sec-base, len(agg.buckets))
		}
	}
}

// A late second of the oldest bucket and the first second of the next
// interval in one answer (a catch-up, or a late second at a minute's
// start): the oldest bucket changed, so it is re-emitted before it goes,
// never dropped with the late second unwritten and uncounted. By hand, as
// above: minutes 0 and 1 emitted, 2 open; minute 0 had 60 requests, +1.
func TestLateSecondOfOldestBucketWrittenBeforeItGoes(t *testing.T) {
	const base = int64(1700000040)
	agg := newAggregator("www", time.Minute)
	agg.first = base
	for sec := base; sec < base+180; sec++ {
		decodeAdd(t, agg, p1Second(sec+1, sec))
	}
	res := decodeAdd(t, agg, p1Second(base+181, base+30, base+180))
	if len(res.skipped) != 0 {
		t.Fatalf("skipped %q", res.skipped)
	}
	want(t, find(t, res.recs, "all", base), map[schema.Field]float64{schema.Requests: 61})
	// Once minute 2 closes (Timestamp base+191), minute 0 goes: 3 held.
	for sec := base + 181; sec < base+200; sec++ {
		decodeAdd(t, agg, p1Second(sec+1, sec))
	}
	if len(agg.buckets) != 3 || agg.buckets[0].start != base+60 {
		t.Fatalf("after minute 2 closed: %d buckets, first at +%d, want 3 from +60", len(agg.buckets), agg.buckets[0].start-base)
	}
}

// p1Second is a real-time answer with Timestamp ts and AggregateDelay 9
// holding one request at POP P1 for each second recorded.
func p1Second(ts int64, recorded ...int64) []byte {
	var b strings.Builder
	b.WriteString(`{"Data":[`)
	for i, r := range recorded {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"datacenter":{"P1":{"requests":1}},"recorded":%d}`, r)
	}
	fmt.Fprintf(&b, `],"Timestamp":%d,"AggregateDelay":9}`, ts)
	return []byte(b.String())
}

// A service's buckets follow one another minute after minute; the array of
// POPs each holds must be sized to the service's POPs, not to what append
// grew it to (136 for 100 POPs): at 1 000 services the slack was ~20 MB.
func TestBucketsCarryNoSlack(t *testing.T) {
	const pops = 100
	agg := newAggregator("www", time.Minute)
	base := int64(1700000040) // a minute start
	agg.first = base
	var b strings.Builder
	for i := int64(0); i < 10*60; i++ {
		sec := base + i
		b.Reset()
		b.WriteString(`{"Data":[{"datacenter":{`)
		for p := 0; p < pops; p++ {
			if p > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `"P%02d":{"requests":1}`, p)
		}
		fmt.Fprintf(&b, `},"recorded":%d}],"Timestamp":%d,"AggregateDelay":9}`, sec, sec+1)
		decodeAdd(t, agg, []byte(b.String()))
	}
	if len(agg.buckets) < agg.keep {
		t.Fatalf("%d buckets after 10 minutes, want at least keep=%d", len(agg.buckets), agg.keep)
	}
	for _, bk := range agg.buckets {
		if len(bk.pops) != pops || cap(bk.pops) > pops+pops/8 {
			t.Errorf("bucket %d: %d POPs in an array of %d, want %d in at most %d", bk.start, len(bk.pops), cap(bk.pops), pops, pops+pops/8)
		}
	}
}

// Past maxNames distinct POP names (a broken or hostile feed) a new name
// is no longer interned, but its counts are still kept apart and whole.
func TestPOPsBeyondTheNameTable(t *testing.T) {
	agg := newAggregator("www", time.Minute)
	base := int64(1700000040)
	agg.first = base
	const perBucket = 1500 // under maxPOPs; 3 buckets fill maxNames (4096)
	var b strings.Builder
	second := func(minute, sec int) {
		b.Reset()
		b.WriteString(`{"Data":[{"datacenter":{`)
		for p := 0; p < perBucket; p++ {
			if p > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `"M%dP%d":{"requests":%d}`, minute, p, p+1)
		}
		rec := base + int64(minute*60+sec)
		fmt.Fprintf(&b, `},"recorded":%d}],"Timestamp":%d,"AggregateDelay":0}`, rec, rec+1)
	}
	var last added
	for m := 0; m < 4; m++ {
		for sec := 0; sec < 2; sec++ {
			second(m, sec)
			decodeAdd(t, agg, []byte(b.String()))
		}
	}
	if len(agg.popNames) != maxNames {
		t.Fatalf("%d names interned, want the table full (%d)", len(agg.popNames), maxNames)
	}
	// Close minute 3 (its names are beyond the table from the 97th on).
	last = decodeAdd(t, agg, []byte(fmt.Sprintf(`{"Data":[],"Timestamp":%d,"AggregateDelay":0}`, base+5*60)))
	start := base + 3*60
	got := 0
	for _, r := range last.recs {
		if r.Start != start || r.Location == "all" {
			continue
		}
		var p int
		if _, err := fmt.Sscanf(r.Location, "M3P%d", &p); err != nil {
			t.Fatalf("unexpected location %q", r.Location)
		}
		if v, _ := r.Counts.Get(schema.Requests); v != float64(2*(p+1)) { // two seconds of p+1
			t.Errorf("%s: requests %v, want %d", r.Location, v, 2*(p+1))
		}
		got++
	}
	if got != perBucket {
		t.Fatalf("minute 3 emitted %d POPs, want %d", got, perBucket)
	}
}

// Subscribing starts at ts 0 inside a bucket: that bucket misses its first
// seconds and is not emitted (a partial sum would overwrite a complete
// value); the next one is.
func TestFirstPartialBucketNotEmitted(t *testing.T) {
	agg := newAggregator("www", time.Minute)
	res := decodeAdd(t, agg, []byte(`{"Data":[{"aggregated":{"requests":4},"recorded":1700000030}],"Timestamp":1700000040,"AggregateDelay":9}`))
	res2 := decodeAdd(t, agg, []byte(`{"Data":[{"aggregated":{"requests":6},"recorded":1700000040}],"Timestamp":1700000080,"AggregateDelay":9}`))
	if len(res.recs)+len(res2.recs) != 0 || len(res2.partial) != 1 || res2.partial[0] != 1699999980 {
		t.Fatalf("partial bucket: %+v %+v", res, res2)
	}
	res3 := decodeAdd(t, agg, []byte(`{"Data":[{"aggregated":{"requests":2},"recorded":1700000041}],"Timestamp":1700000131,"AggregateDelay":9}`))
	if len(res3.recs) != 1 {
		t.Fatalf("next bucket: %+v", res3)
	}
	want(t, res3.recs[0], map[schema.Field]float64{schema.Requests: 6 + 2})
	// A late second of the partial bucket does not make it emittable.
	res4 := decodeAdd(t, agg, []byte(`{"Data":[{"aggregated":{"requests":1},"recorded":1700000001}],"Timestamp":1700000132,"AggregateDelay":9}`))
	if len(res4.recs) != 0 {
		t.Fatalf("partial bucket emitted after a late second: %+v", res4)
	}
}

// Bad entries cost only themselves: a POP's or an aggregate's impossible
// value makes only that field of its bucket unknown (NaN, which the
// pipeline's value check rejects and counts) and keeps the rest of the
// second; a record without a usable recorded time is left out; a second
// without "aggregated" is totalled from its POPs.
func TestRealTimeBadEntries(t *testing.T) {
	agg := newAggregator("www", time.Minute)
	agg.first = 1
	res := decodeAdd(t, agg, []byte(`{"Data":[
		{"datacenter":{"AAA":{"requests":3},"BBB":{"requests":-2,"hits":1}},"aggregated":{"requests":3,"hits":1},"recorded":1700000000},
		{"datacenter":{"AAA":{"requests":1}},"aggregated":{"requests":1,"hits":"x"},"recorded":1700000001},
		{"datacenter":{"AAA":{"requests":2,"hits":1},"CCC":{"requests":5,"hits":5}},"recorded":1700000002},
		{"aggregated":{"requests":1},"recorded":"soon"},
		{"aggregated":{"requests":1}}
	],"Timestamp":1700000100,"AggregateDelay":9}`))
	if len(res.skipped) != 2 {
		t.Fatalf("skipped %d: %q", len(res.skipped), res.skipped)
	}
	for i, want := range []string{"recorded is not a positive integer", "no recorded time"} {
		if !strings.Contains(res.skipped[i], want) {
			t.Errorf("skipped[%d] = %q, want it to mention %q", i, res.skipped[i], want)
		}
	}
	all := find(t, res.recs, "all", 1700000000-20)
	want(t, all, map[schema.Field]float64{schema.Requests: 3 + 1 + (2 + 5)}) // seconds 0 and 1's totals + second 2's POP sum
	if v, ok := all.Get(schema.Hits); ok && !math.IsNaN(v) {
		t.Errorf("all hits = %v: second 1's aggregated hits are not a number, the minute's hits are unknown", v)
	}
	want(t, find(t, res.recs, "AAA", 1700000000-20), map[schema.Field]float64{schema.Requests: 3 + 1 + 2})
	bbb := find(t, res.recs, "BBB", 1700000000-20)
	want(t, bbb, map[schema.Field]float64{schema.Hits: 1})
	if v, _ := bbb.Get(schema.Requests); !math.IsNaN(v) {
		t.Errorf("BBB requests = %v, want NaN (a negative second)", v)
	}
}

// Two POP codes that become one Graphite node ("LAX" and "lax"; "ALL",
// "all" and "All" all renamed pop_all) are one location: their counts are
// summed into one record, as the inspectors do. Two records of one series
// in a bucket would have the later overwrite the other in Graphite, and the
// POPs would no longer add up to the aggregate. By hand: pop_all 2+3+1,
// lax 4+5, all 14+1.
func TestPOPCodesOnOneNodeAreSummed(t *testing.T) {
	const b1 = 1700000040
	agg := newAggregator("www", time.Minute)
	agg.first = b1 - 60
	res := decodeAdd(t, agg, []byte(fmt.Sprintf(`{"Data":[
		{"datacenter":{"ALL":{"requests":2},"all":{"requests":3},"LAX":{"requests":4},"lax":{"requests":5}},"aggregated":{"requests":14},"recorded":%d},
		{"datacenter":{"All":{"requests":1}},"aggregated":{"requests":1},"recorded":%d}],"Timestamp":%d,"AggregateDelay":9}`, b1+1, b1+2, b1+71)))
	got := map[string]float64{}
	n := 0
	for _, r := range res.recs {
		if r.Start != b1 {
			continue
		}
		n++
		v, _ := r.Get(schema.Requests)
		got[schema.Sanitize(r.Location)] += v
	}
	wantReq := map[string]float64{"all": 14 + 1, "pop_all": 2 + 3 + 1, "lax": 4 + 5}
	if n != len(wantReq) {
		t.Errorf("%d records in bucket %d, want %d (one per node): %v", n, b1, len(wantReq), res.recs)
	}
	for loc, v := range wantReq {
		if got[loc] != v {
			t.Errorf("%s requests = %v, want %v", loc, got[loc], v)
		}
	}
}

// A POP code longer than a path node may be (outside input) is written
// under a bounded node, the same as the inspectors' for that POP, not as a
// directory name carbon cannot create (255 bytes). Two such codes sharing
// their first 300 bytes stay apart.
func TestLongPOPCodeBoundedNode(t *testing.T) {
	const b1 = 1700000040
	long := strings.Repeat("X", 300)
	agg := newAggregator("www", time.Minute)
	agg.first = b1 - 60
	res := decodeAdd(t, agg, []byte(fmt.Sprintf(`{"Data":[
		{"datacenter":{"%sA":{"requests":2},"%sB":{"requests":3}},"aggregated":{"requests":5},"recorded":%d}],"Timestamp":%d,"AggregateDelay":9}`, long, long, b1+1, b1+71)))
	got := map[string]float64{}
	for _, r := range res.recs {
		node := schema.Sanitize(r.Location)
		if len(node) > maxNodeLen {
			t.Errorf("location of %d bytes written, want at most %d", len(node), maxNodeLen)
		}
		v, _ := r.Get(schema.Requests)
		got[node] = v
	}
	wantReq := map[string]float64{"all": 5, inspectPOP([]byte(long + "A")): 2, inspectPOP([]byte(long + "B")): 3}
	if len(got) != len(wantReq) {
		t.Fatalf("locations %v, want %v", got, wantReq)
	}
	for loc, v := range wantReq {
		if got[loc] != v {
			t.Errorf("%s requests = %v, want %v", loc, got[loc], v)
		}
	}
}

// fold leaves the records of the buckets to write to be built when they
// are emitted (see rtEmitters); records then builds them in one slice of
// exactly their size, with the feed's counts: three POPs answering 1
// request every second make 60 each and 180 in all per minute. With
// AggregateDelay 0 a minute is due 2 s (grace) after its end, so in
// three minutes of seconds the first two are written once each: 2 × 4
// records.
func TestFoldLeavesRecordsToTheEmitter(t *testing.T) {
	agg := newAggregator("www", time.Minute)
	base := int64(1700000040) // a minute start
	agg.first = base
	var emitted []schema.Record
	for i := int64(0); i < 3*60; i++ {
		sec := base + i
		body := fmt.Sprintf(`{"Data":[{"datacenter":{"AMS":{"requests":1},"LAX":{"requests":1},"NRT":{"requests":1}},"recorded":%d}],"Timestamp":%d,"AggregateDelay":0}`, sec, sec+1)
		var f rtFrame
		if err := decodeRT([]byte(body), &f); err != nil {
			t.Fatal(err)
		}
		res := agg.fold(&f)
		recs := agg.records(res.write...)
		if cap(recs) != len(recs) {
			t.Errorf("second %d: %d records in an array of %d", sec, len(recs), cap(recs))
		}
		emitted = append(emitted, recs...)
	}
	if len(emitted) != 2*4 {
		t.Fatalf("%d records emitted in 3 minutes, want 2 minutes of 4: %+v", len(emitted), emitted)
	}
	for _, r := range emitted {
		want := 60.0
		if r.Location == schema.LocationAll {
			want = 180
		}
		if v, ok := r.Get(schema.Requests); !ok || v != want {
			t.Errorf("%s %d requests = %v (known %v), want %v", r.Location, r.Start, v, ok, want)
		}
	}
}
