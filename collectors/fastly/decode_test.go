package fastly

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/cdnmetrics/cdnmetrics/collectors/collectorstest"
)

// refValues decodes a measurements object the slow, obvious way.
func refValues(t *testing.T, m map[string]any) (v [numVFields]float64, present uint32) {
	for i, n := range vendorNames {
		if x, ok := m[n]; ok && x != nil {
			f, isNum := x.(float64)
			if !isNum {
				t.Fatalf("reference: %s is %T", n, x)
			}
			v[i] = f
			present |= 1 << i
		}
	}
	return v, present
}

// compareWithStdlib checks decodeRT against encoding/json on body.
func compareWithStdlib(t *testing.T, body []byte) {
	t.Helper()
	var ref refRT
	if err := json.Unmarshal(body, &ref); err != nil {
		t.Fatalf("reference decode: %v", err)
	}
	var f rtFrame
	if err := decodeRT(body, &f); err != nil {
		t.Fatalf("decodeRT: %v", err)
	}
	if f.timestamp != ref.Timestamp || f.aggregateDelay != ref.AggregateDelay || string(f.errText) != ref.Error || len(f.records) != len(ref.Data) {
		t.Fatalf("envelope: got ts %d delay %d err %q records %d; want %d %d %q %d",
			f.timestamp, f.aggregateDelay, f.errText, len(f.records), ref.Timestamp, ref.AggregateDelay, ref.Error, len(ref.Data))
	}
	for i, d := range ref.Data {
		r := &f.records[i]
		if r.recorded != d.Recorded {
			t.Errorf("record %d recorded %d, want %d", i, r.recorded, d.Recorded)
		}
		if v, p := refValues(t, d.Aggregated); v != r.agg.v || p != r.agg.present {
			t.Errorf("record %d aggregated differs:\n got %v %b\nwant %v %b", i, r.agg.v, r.agg.present, v, p)
		}
		if r.end-r.first != len(d.Datacenter) {
			t.Fatalf("record %d: %d POPs, want %d", i, r.end-r.first, len(d.Datacenter))
		}
		for _, e := range f.entries[r.first:r.end] {
			m, ok := d.Datacenter[string(e.pop)]
			if !ok {
				t.Fatalf("record %d: POP %q not in reference", i, e.pop)
			}
			if v, p := refValues(t, m); v != e.st.v || p != e.st.present {
				t.Errorf("record %d POP %s differs", i, e.pop)
			}
		}
	}
}

func TestDecodeRTMatchesEncodingJSON(t *testing.T) {
	for _, body := range []string{
		string(collectorstest.ReadTestdata(t, "rt-channel-ts-response.json")),
		string(collectorstest.ReadTestdata(t, "rt-channel-ts-nodata.json")),
		// Escapes in keys and POP names, odd spacing, nulls, exponents,
		// unknown nested values, lower-case envelope keys.
		`{ "data" : [ { "recorded" : 17 , "datacenter" : { "P\u00c9R" : { "requ\u0065sts" : 1e2, "hits": null, "x": [1,{"a":[]}], "miss_histogram": {"1": 2} } },
		   "aggregated" : { "requests" : 100.0, "status_2xx": 3E1 } } ] , "timestamp" : 18, "aggregatedelay": 9, "error": "a\"b" }`,
		`{"Data":null,"Timestamp":5}`,
		`{"Data":[{"datacenter":{},"aggregated":{},"recorded":1}],"Timestamp":2}`,
	} {
		compareWithStdlib(t, []byte(body))
	}
}

// Every prefix of a valid response is an error (never a panic, never a
// silent success), and so is garbage.
func TestDecodeRTRejectsBrokenInput(t *testing.T) {
	body := collectorstest.ReadTestdata(t, "rt-channel-ts-response.json")
	var f rtFrame
	for n := 0; n < len(body)-1; n++ {
		if strings.TrimSpace(string(body[:n])) == "" && n > 0 {
			continue
		}
		if err := decodeRT(body[:n], &f); err == nil {
			t.Fatalf("prefix of %d bytes accepted", n)
		}
	}
	for _, bad := range []string{"", "<html>502 Bad Gateway</html>", "[]", `{"Data":{}}`, `{"Timestamp":"x"}`, `{"Data":[]} x`,
		`{"Data":[` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `]}`, `{"a":tru}`, `{"a":"\u0001` + "\x01" + `"}`} {
		if err := decodeRT([]byte(bad), &f); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestDecodeHistoricalErrors(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{`{"status":"error","msg":"Bad from parameter"}`, `status "error": msg "Bad from parameter"`},
		{`{"msg":"Provided credentials are missing or invalid"}`, "no data in answer"},
		{`{"data":{"svc":[]},"status":"success"}`, "data is not an array"},
		{`<html><body>503 Service Unavailable</body></html>`, "answer is not an object"},
		{``, "answer is not an object"},
		{`{"data":[{"start_time":60,"requests":1}]`, "want ',' or '}'"},
	} {
		_, _, _, err := parseHistorical([]byte(c.body), "www", "all", windowAll)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err %v, want %q", c.body, err, c.want)
		}
	}
}

func TestDecodeServiceList(t *testing.T) {
	svcs, err := decodeServiceList(collectorstest.ReadTestdata(t, "service-list-page1.json"))
	if err != nil || len(svcs) != 2 || svcs[0].ID != "mjvYB61u7BiqD3Nzkl69P3" || svcs[0].Name != "testing-paginator" || svcs[0].Version != 1 {
		t.Fatalf("%+v %v", svcs, err)
	}
	if _, err := decodeServiceList([]byte(`{"msg":"nope"}`)); err == nil {
		t.Fatal("an object accepted as the service list")
	}
}

// special must flag every quote, backslash and control byte at every
// position of a word (a miss would let str run past a string's end).
func TestSpecialWordScan(t *testing.T) {
	for c := 0; c < 256; c++ {
		for p := 0; p < 8; p++ {
			w := []byte("aaaaaaaa")
			w[p] = byte(c)
			x := uint64(0)
			for i := 7; i >= 0; i-- {
				x = x<<8 | uint64(w[i])
			}
			want := c < 0x20 || c == '"' || c == '\\'
			if got := special(x); got != want {
				t.Fatalf("byte %#x at %d: special %v, want %v", c, p, got, want)
			}
		}
	}
}
