package e2e

// The soak test's misbehaving vendor: a wrapper around the Fastly
// stand-in that answers chosen requests with a fault (429 with
// Retry-After, 500, a garbage 200, a slow answer, an answer stamped in
// the year 2100) and records what the daemon asked for.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// soakFuture is the vendor time of the future-stamped answer:
// 2100-01-01T00:00:00Z. The answer's Timestamp is 10 minutes later, so
// on a build that trusts it the second's bucket is due at once.
const soakFuture = int64(4102444800)

// vendorFault is one fault for one request.
type vendorFault struct {
	kind  string        // "429", "500", "garbage", "slow", "future"
	delay time.Duration // slow: how long the answer is held; 429: Retry-After
	burst int           // more than 1: the same service's next burst-1 requests get it too
}

func (f vendorFault) String() string {
	s := f.kind
	if f.delay > 0 {
		s += " " + f.delay.Round(100*time.Millisecond).String()
	}
	if f.burst > 1 {
		s += fmt.Sprintf(" ×%d", f.burst)
	}
	return s
}

// soakVendor serves the stand-in behind faults. Real-time faults are
// armed by the test at random times and taken by the next real-time
// requests, in order (a burst by one service's next requests, so its
// stream sees consecutive failures); the catch-up's stats requests take the faults of
// histPlan in arrival order, at most two per distinct request (httpx
// retries four times, so every historical fault heals and the catch-up
// loses nothing).
type soakVendor struct {
	next http.Handler

	mu        sync.Mutex
	rtQueue   []vendorFault
	rtBurst   map[string][]vendorFault // service id → rest of a burst it took
	histPlan  []vendorFault
	histByURI map[string]int
	served    map[string]int // "rt 429", "hist 500", … → times served
	windows   map[[2]int64]bool
	firstRT   map[string]time.Time // service id → first real-time request
	future    []string             // "service id at time" of each future-stamped answer served
	rtAnswers int
}

func newSoakVendor(histPlan []vendorFault) *soakVendor {
	return &soakVendor{histPlan: histPlan, histByURI: map[string]int{}, served: map[string]int{}, rtBurst: map[string][]vendorFault{},
		windows: map[[2]int64]bool{}, firstRT: map[string]time.Time{}}
}

func (v *soakVendor) wrap(h http.Handler) http.Handler { v.next = h; return v }

// arm queues faults for the next real-time requests.
func (v *soakVendor) arm(fs ...vendorFault) {
	v.mu.Lock()
	v.rtQueue = append(v.rtQueue, fs...)
	v.mu.Unlock()
}

// pending is how many armed real-time faults were not served yet.
func (v *soakVendor) pending() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	n := len(v.rtQueue)
	for _, b := range v.rtBurst {
		n += len(b)
	}
	return n
}

func (v *soakVendor) servedCounts() map[string]int {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make(map[string]int, len(v.served))
	for k, n := range v.served {
		out[k] = n
	}
	return out
}

func (v *soakVendor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case strings.Contains(p, "/stats/service/"):
		var f vendorFault
		from, err1 := strconv.ParseInt(r.URL.Query().Get("from"), 10, 64)
		to, err2 := strconv.ParseInt(r.URL.Query().Get("to"), 10, 64)
		v.mu.Lock()
		if err1 == nil && err2 == nil {
			v.windows[[2]int64{from, to}] = true
		}
		if len(v.histPlan) > 0 && v.histByURI[r.URL.RequestURI()] < 2 {
			f, v.histPlan = v.histPlan[0], v.histPlan[1:]
			v.histByURI[r.URL.RequestURI()]++
			v.served["hist "+f.kind]++
		}
		v.mu.Unlock()
		v.serveFault(w, r, f)
	case strings.Contains(p, "/v1/channel/"):
		id := strings.Split(strings.SplitAfter(p, "/v1/channel/")[1], "/")[0]
		var f vendorFault
		v.mu.Lock()
		if _, ok := v.firstRT[id]; !ok {
			v.firstRT[id] = time.Now()
		}
		switch {
		case len(v.rtBurst[id]) > 0:
			f, v.rtBurst[id] = v.rtBurst[id][0], v.rtBurst[id][1:]
		case len(v.rtQueue) > 0:
			f, v.rtQueue = v.rtQueue[0], v.rtQueue[1:]
			for i := 1; i < f.burst; i++ {
				v.rtBurst[id] = append(v.rtBurst[id], vendorFault{kind: f.kind, delay: f.delay})
			}
		}
		v.rtAnswers++
		v.mu.Unlock()
		if f.kind == "future" {
			if !v.serveFuture(w, r, id) {
				v.mu.Lock()
				v.rtQueue = append([]vendorFault{f}, v.rtQueue...) // wait for an answer with data
				v.mu.Unlock()
			}
			return
		}
		if f.kind != "" {
			v.mu.Lock()
			v.served["rt "+f.kind]++
			v.mu.Unlock()
		}
		v.serveFault(w, r, f)
	default:
		v.next.ServeHTTP(w, r)
	}
}

// serveFault answers r with f (none: the stand-in's answer).
func (v *soakVendor) serveFault(w http.ResponseWriter, r *http.Request, f vendorFault) {
	switch f.kind {
	case "429":
		w.Header().Set("Retry-After", strconv.Itoa(int(max(f.delay, time.Second)/time.Second)))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"msg":"Too many requests"}`)
	case "500":
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, `{"msg":"Internal Server Error"}`)
	case "garbage":
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		fmt.Fprint(w, "\x00\x1f\x8bnot json at all {{{")
	case "slow":
		select {
		case <-r.Context().Done():
			return
		case <-time.After(f.delay):
		}
		v.next.ServeHTTP(w, r)
	default:
		v.next.ServeHTTP(w, r)
	}
}

// serveFuture answers a real-time request with the stand-in's answer
// rewritten: its Timestamp set to 2100-01-01T00:10Z and a copy of its
// last second appended, recorded at 2100-01-01T00:00Z. The real seconds
// are untouched, so a build that rejects only what is in the future
// loses nothing of the model's traffic. It reports false (and serves the
// answer as it was) when the answer had no data to copy.
func (v *soakVendor) serveFuture(w http.ResponseWriter, r *http.Request, id string) bool {
	rec := httptest.NewRecorder()
	v.next.ServeHTTP(rec, r)
	body := rec.Body.Bytes()
	var ans map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	err := dec.Decode(&ans)
	data, _ := ans["Data"].([]any)
	if err != nil || rec.Code != http.StatusOK || len(data) == 0 {
		copyAnswer(w, rec, body)
		return false
	}
	last, ok := data[len(data)-1].(map[string]any)
	if !ok {
		copyAnswer(w, rec, body)
		return false
	}
	second := make(map[string]any, len(last))
	for k, x := range last {
		second[k] = x
	}
	second["recorded"] = soakFuture
	ans["Data"] = append(data, second)
	ans["Timestamp"] = soakFuture + 600
	out, err := json.Marshal(ans)
	if err != nil {
		copyAnswer(w, rec, body)
		return false
	}
	v.mu.Lock()
	v.served["rt future"]++
	v.future = append(v.future, fmt.Sprintf("service %s at %s", id, time.Now().UTC().Format("15:04:05.000")))
	v.mu.Unlock()
	copyAnswer(w, rec, out)
	return true
}

func copyAnswer(w http.ResponseWriter, rec *httptest.ResponseRecorder, body []byte) {
	for k, vs := range rec.Header() {
		if k != "Content-Length" {
			w.Header()[k] = vs
		}
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(body)
}
