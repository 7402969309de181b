package probe

import (
	"strings"
	"testing"

	"github.com/cdnmetrics/cdnmetrics/collectors"
)

// Targets whose provider and service give the same path after
// sanitising are flagged like identical ones.
func TestValidateFlagsTargetsSharingAPath(t *testing.T) {
	o := DefaultOptions()
	o.Targets = []Target{
		{Provider: "fastly", Service: "www.prod", URL: "https://a.example/health"},
		{Provider: "Fastly", Service: "WWW prod", URL: "https://b.example/health"},
		{Provider: "fastly", Service: "api", URL: "https://c.example/health"},
	}
	var flagged []string
	for _, p := range o.Validate(collectors.Env{}) {
		if strings.Contains(p.Message, "overwrite") {
			flagged = append(flagged, p.Key)
		}
	}
	if strings.Join(flagged, " ") != "probe.target[1]" {
		t.Fatalf("flagged %v, want probe.target[1]", flagged)
	}
}
