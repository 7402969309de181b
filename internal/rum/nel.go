package rum

import (
	"encoding/json"
	"net/url"
	"strings"
)

// nelReport is one report of an application/reports+json body (W3C
// Reporting API): only network-error reports of a failure count.
type nelReport struct {
	Type string `json:"type"`
	URL  string `json:"url"`
	Body struct {
		Type string `json:"type"` // "ok" for a success sample, else the error
	} `json:"body"`
}

// parseNEL returns the hosts of the failures in a reports body (lower
// case, without port), at most max; bad counts reports that are not
// network-error reports with a URL, other the rest beyond max. An error
// means the body is not a JSON array.
func parseNEL(body []byte, max int) (hosts []string, bad, extra int, err error) {
	var raw []json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, 0, 0, errNotBeacon
	}
	for i, r := range raw {
		if i >= max {
			extra = len(raw) - max
			break
		}
		var rep nelReport
		if json.Unmarshal(r, &rep) != nil || rep.Type != "network-error" {
			bad++
			continue
		}
		if rep.Body.Type == "ok" {
			continue // a sampled success, not a failure
		}
		u, err := url.Parse(rep.URL)
		if err != nil || u.Hostname() == "" {
			bad++
			continue
		}
		hosts = append(hosts, strings.ToLower(u.Hostname()))
	}
	return hosts, bad, extra, nil
}
