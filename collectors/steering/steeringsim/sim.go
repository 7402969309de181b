package steeringsim

import (
	"encoding/xml"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/simulate"
	"github.com/cdnmetrics/cdnmetrics/internal/traffic"
)

const name = "steering"

// The stand-in's hosted zone, credentials and record names.
const (
	HostedZoneID = "Z0SIMULATED0STEERING"
	AccessKeyID  = "cdnmetrics-sim"
	Domain       = "example.com."
)

// DefaultProviders are the providers steered when the model gives no
// characters (traffic.Default): every one serves the same traffic, so
// every weight is equal.
var DefaultProviders = []string{"akamai", "cloudflare", "cloudfront", "edgecast", "fastly"}

// RecordName is the weighted record of service svc.
func RecordName(svc string) string { return svc + "." + Domain }

// SetIdentifier is the set identifier of provider p's record.
func SetIdentifier(p string) string { return p + "-set" }

// Weights returns the Route 53 weight of each provider for every service
// of m: 100 × the provider's traffic scale (Character.Scale, 0 meaning 1),
// rounded, so the weights' shares are the model's request shares.
func Weights(m *traffic.Model) map[string]int64 {
	provs := DefaultProviders
	if len(m.Characters) > 0 {
		provs = nil
		for p := range m.Characters {
			provs = append(provs, p)
		}
	}
	out := map[string]int64{}
	for _, p := range provs {
		scale := 1.0
		if c, ok := m.Characters[p]; ok && c.Scale != 0 {
			scale = c.Scale
		}
		out[p] = int64(math.Round(100 * scale))
	}
	return out
}

// Serve registers GET /2013-04-01/hostedzone/{id}/rrset.
func Serve(mux *http.ServeMux, sim simulate.Env) {
	mux.HandleFunc("GET /2013-04-01/hostedzone/{id}/rrset", func(w http.ResponseWriter, r *http.Request) {
		list(w, r, sim)
	})
}

// Config returns the [steering] section reading every service's weights
// from the stand-in with static credentials.
func Config(baseURL, _ string) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "[steering]\nschedule = \"@every 1m\"\n")
	ids := make([]string, 0, len(DefaultProviders))
	for _, p := range DefaultProviders {
		ids = append(ids, fmt.Sprintf("%q = %q", SetIdentifier(p), p))
	}
	for _, s := range traffic.Default(0).Services {
		fmt.Fprintf(&b, "\n[[steering.source]]\nservice = %q\nkind = \"route53\"\nhosted_zone_id = %q\nrecord_name = %q\nrecord_type = \"CNAME\"\n"+
			"endpoint_url = %q\naccess_key_id = %q\nsecret_key_env = %q\nproviders = { %s }\n",
			s.Name, HostedZoneID, RecordName(s.Name), baseURL, AccessKeyID, collectors.SimSecretEnv, strings.Join(ids, ", "))
	}
	return b.String(), nil
}

// The REST-XML shapes of ListResourceRecordSets' answer.
type (
	listResponse struct {
		XMLName              xml.Name    `xml:"https://route53.amazonaws.com/doc/2013-04-01/ ListResourceRecordSetsResponse"`
		ResourceRecordSets   []recordSet `xml:"ResourceRecordSets>ResourceRecordSet"`
		IsTruncated          bool        `xml:"IsTruncated"`
		MaxItems             string      `xml:"MaxItems"`
		NextRecordName       string      `xml:"NextRecordName,omitempty"`
		NextRecordType       string      `xml:"NextRecordType,omitempty"`
		NextRecordIdentifier string      `xml:"NextRecordIdentifier,omitempty"`
	}
	recordSet struct {
		Name          string   `xml:"Name"`
		Type          string   `xml:"Type"`
		SetIdentifier string   `xml:"SetIdentifier,omitempty"`
		Weight        *int64   `xml:"Weight,omitempty"`
		TTL           int64    `xml:"TTL"`
		Values        []string `xml:"ResourceRecords>ResourceRecord>Value"`
	}
	errorResponse struct {
		XMLName xml.Name `xml:"https://route53.amazonaws.com/doc/2013-04-01/ ErrorResponse"`
		Type    string   `xml:"Error>Type"`
		Code    string   `xml:"Error>Code"`
		Message string   `xml:"Error>Message"`
	}
)

func writeXML(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(xml.Header))
	_ = xml.NewEncoder(w).Encode(v)
}

// records is the zone's content in Route 53's order (name, type, set
// identifier): for every service a weighted CNAME per provider, and an
// unweighted apex record the reader must step over.
func records(m *traffic.Model) []recordSet {
	ws := Weights(m)
	var out []recordSet
	out = append(out, recordSet{Name: Domain, Type: "A", TTL: 300, Values: []string{"192.0.2.1"}})
	for _, s := range m.Services {
		for p, v := range ws {
			v := v
			out = append(out, recordSet{Name: RecordName(s.Name), Type: "CNAME", SetIdentifier: SetIdentifier(p), Weight: &v, TTL: 60,
				Values: []string{s.Name + "." + p + ".cdn.example.net"}})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		if a.Type != b.Type {
			return a.Type < b.Type
		}
		return a.SetIdentifier < b.SetIdentifier
	})
	return out
}

// list answers from name/type/identifier on, at most maxitems records
// (default 100; the stand-in pages by 2 when asked for fewer, to exercise
// the reader's paging). A request without a SigV4 Authorization naming
// AccessKeyID is refused as Route 53 refuses it. (The signature itself
// is not recomputed here.)
func list(w http.ResponseWriter, r *http.Request, sim simulate.Env) {
	auth := r.Header.Get("Authorization")
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential="+AccessKeyID+"/") {
		writeXML(w, http.StatusForbidden, errorResponse{Type: "Sender", Code: "InvalidClientTokenId", Message: "The security token included in the request is invalid."})
		return
	}
	if id := r.PathValue("id"); id != HostedZoneID {
		writeXML(w, http.StatusNotFound, errorResponse{Type: "Sender", Code: "NoSuchHostedZone", Message: "No hosted zone found with ID: " + id})
		return
	}
	q := r.URL.Query()
	max := 100
	if s := q.Get("maxitems"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			writeXML(w, http.StatusBadRequest, errorResponse{Type: "Sender", Code: "InvalidInput", Message: "maxitems"})
			return
		}
		if n < max {
			max = n
		}
	}
	all := records(sim.Model)
	start := 0
	if n := q.Get("name"); n != "" {
		start = len(all)
		for i, rs := range all {
			if rs.Name > n || rs.Name == n && (q.Get("type") == "" || rs.Type > q.Get("type") ||
				rs.Type == q.Get("type") && rs.SetIdentifier >= q.Get("identifier")) {
				start = i
				break
			}
		}
	}
	end := min(start+max, len(all))
	resp := listResponse{ResourceRecordSets: all[start:end], MaxItems: strconv.Itoa(max)}
	if resp.ResourceRecordSets == nil {
		resp.ResourceRecordSets = []recordSet{}
	}
	if end < len(all) {
		nx := all[end]
		resp.IsTruncated, resp.NextRecordName, resp.NextRecordType, resp.NextRecordIdentifier = true, nx.Name, nx.Type, nx.SetIdentifier
	}
	writeXML(w, http.StatusOK, resp)
}
