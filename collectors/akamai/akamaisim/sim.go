package akamaisim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
	"github.com/cdnmetrics/cdnmetrics/internal/simulate"
	"github.com/cdnmetrics/cdnmetrics/internal/traffic"
)

// Stand-in credentials (the secret is collectors.SimSecret); the tokens are
// identifiers.
const (
	simClientToken = "akab-sim-client-token"
	simAccessToken = "akab-sim-access-token"
	simLag         = 15 * time.Minute
)

// reportPath is the Reporting API v2 report the collector reads
// (delivery/traffic/current).
const reportPath = "/reporting-api/v2/reports/delivery/traffic/current/data"

// reportRequest is the part of the report request body the stand-in reads:
// the dimensions asked for and the CP codes filtered on.
type reportRequest struct {
	Dimensions []string `json:"dimensions"`
	Filters    []struct {
		Expressions []string `json:"expressions"`
	} `json:"filters"`
	Limit int `json:"limit"`
}

// CPCode is the CP code the stand-in gives model service i.
func CPCode(i int) int64 { return 100000 + int64(i) }

// ProblemJSON answers an error in the Reporting API's problem+json shape.
func ProblemJSON(w http.ResponseWriter, status int, title, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"type": "/reporting-api/error-types/" + strings.ToLower(strings.ReplaceAll(title, " ", "-")),
		"title": title, "status": status, "detail": detail, "instance": reportPath, "problemId": "sim-" + strconv.Itoa(status)})
}

// Serve serves the v2 traffic report from the model and verifies every
// request's EdgeGrid signature, as Akamai would.
func Serve(mux *http.ServeMux, sim simulate.Env) {
	// The provider\'s own character, when the model gives it one.
	sim.Model = sim.Model.For("akamai")
	m := sim.Model
	creds := Creds{ClientToken: simClientToken, ClientSecret: sim.Secret("akamai"), AccessToken: simAccessToken, MaxBody: 131072}
	mux.HandleFunc("POST "+reportPath, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		// r.RequestURI is the path as signed (before the simulator's prefix was stripped).
		if err := Verify(creds, r.Header.Get("Authorization"), r.Method, "http", r.Host, r.RequestURI, body); err != nil {
			ProblemJSON(w, http.StatusUnauthorized, "Not authorized", err.Error())
			return
		}
		var req reportRequest
		if err := json.Unmarshal(body, &req); err != nil {
			ProblemJSON(w, http.StatusBadRequest, "Bad Request", "body is not a report request")
			return
		}
		start, err1 := time.Parse(time.RFC3339, r.URL.Query().Get("start"))
		end, err2 := time.Parse(time.RFC3339, r.URL.Query().Get("end"))
		if err1 != nil || err2 != nil || !end.After(start) {
			ProblemJSON(w, http.StatusBadRequest, "Bad Request", "start and end must be ISO-8601 with start < end")
			return
		}
		byClass := len(req.Dimensions) == 3 && req.Dimensions[2] == "responseClass"
		wanted := map[string]bool{}
		for _, f := range req.Filters {
			for _, e := range f.Expressions {
				wanted[e] = true
			}
		}
		avail := sim.Now().Add(-simLag).Unix()
		rows := []map[string]any{}
		for t := start.Unix() - start.Unix()%300; t+300 <= min(end.Unix(), avail); t += 300 {
			if t < start.Unix() {
				continue
			}
			for i := range m.Services {
				cp := strconv.FormatInt(CPCode(i), 10)
				if !wanted[cp] {
					continue
				}
				s := m.SumAll(i, t, t+300)
				if s.Requests == 0 {
					continue // Akamai omits rows without traffic
				}
				if byClass {
					for class, n := range map[string]int64{"2xx": s.Status2xx, "3xx": s.Status3xx, "4xx": s.Status4xx, "5xx": s.Status5xx} {
						if n > 0 {
							rows = append(rows, map[string]any{"time5minutes": t, "cpcode": cp, "responseClass": class, "edgeHitsSum": n})
						}
					}
					continue
				}
				rows = append(rows, map[string]any{"time5minutes": t, "cpcode": cp,
					"edgeHitsSum": s.Requests, "edgeBytesSum": s.EdgeBytes(), "originHitsSum": s.OriginFetches, "originBytesSum": s.OriginBytes(),
					"hitsOffloadedPercentage":  100 * float64(s.Requests-s.OriginFetches) / float64(s.Requests),
					"bytesOffloadedPercentage": 100 * float64(s.EdgeBytes()-s.OriginBytes()) / float64(s.EdgeBytes())})
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"metadata": map[string]any{"name": "delivery/traffic/current", "start": start.UTC().Format(time.RFC3339), "end": end.UTC().Format(time.RFC3339), "limit": req.Limit},
			"data":     rows,
		})
	})
}

// Config writes an .edgerc for the stand-in and points the collector at it.
func Config(baseURL, dir string) (string, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", err
	}
	edgerc := filepath.Join(dir, "akamai.edgerc")
	text := fmt.Sprintf("[default]\nhost = %s\nclient_token = %s\nclient_secret = %s\naccess_token = %s\n", u.Host, simClientToken, collectors.SimSecret, simAccessToken)
	if err := os.WriteFile(edgerc, []byte(text), 0o600); err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[akamai]\napi_url = %q\nedgerc = %q\nsection = \"default\"\n", baseURL, edgerc)
	for i, s := range traffic.Default(1).Services {
		fmt.Fprintf(&b, "[[akamai.cpcode]]\nid = %d\nname = %q\n", CPCode(i), s.Name)
	}
	return b.String(), nil
}

// Expect is what Collect over w emits against the stand-in: per CP code
// and 5-minute interval with traffic, the model's sums under the unified
// names (edgeHitsSum = requests, edgeBytesSum = edge bytes, originHitsSum =
// origin requests, originBytesSum = origin bytes, hits per responseClass =
// status classes).
func Expect(m *traffic.Model, w collectors.Window) []schema.Record {
	m = m.For("akamai") // what Serve serves
	var recs []schema.Record
	for t := w.Start.Unix(); t+300 <= w.End.Unix(); t += 300 {
		for i, svc := range m.Services {
			s := m.SumAll(i, t, t+300)
			if s.Requests == 0 {
				continue
			}
			r := schema.Record{Provider: "akamai", Service: svc.Name, Location: schema.LocationAll, Start: t, Step: 300}
			r.Set(schema.Requests, float64(s.Requests))
			r.Set(schema.EdgeBytes, float64(s.EdgeBytes()))
			r.Set(schema.OriginRequests, float64(s.OriginFetches))
			r.Set(schema.OriginBytes, float64(s.OriginBytes()))
			r.Set(schema.Status2xx, float64(s.Status2xx))
			r.Set(schema.Status3xx, float64(s.Status3xx))
			r.Set(schema.Status4xx, float64(s.Status4xx))
			r.Set(schema.Status5xx, float64(s.Status5xx))
			recs = append(recs, r)
		}
	}
	return recs
}
