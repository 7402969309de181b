package cloudfrontsim

import (
	"testing"

	"github.com/aws/smithy-go/encoding/cbor"
)

// FuzzDecodeRequest feeds arbitrary bodies to the stand-in's CBOR request
// parser, which faces whatever a client sends the simulator.
func FuzzDecodeRequest(f *testing.F) {
	f.Add(cbor.Encode(cbor.Map{
		"StartTime": &cbor.Tag{ID: 1, Value: cbor.Float64(1736935200)},
		"EndTime":   &cbor.Tag{ID: 1, Value: cbor.Uint(1736935380)},
		"MetricDataQueries": cbor.List{cbor.Map{"Id": cbor.String("requests"), "MetricStat": cbor.Map{
			"Metric": cbor.Map{"Namespace": cbor.String(namespace), "MetricName": cbor.String("Requests"),
				"Dimensions": cbor.List{cbor.Map{"Name": cbor.String("DistributionId"), "Value": cbor.String("E1")}}},
			"Period": cbor.Uint(60), "Stat": cbor.String("Sum")}}},
	}))
	f.Add([]byte{0xa1, 0x61})
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := DecodeRequest(body)
		if err == nil && (len(req.Queries) == 0 || !req.Start.Before(req.End)) {
			t.Fatalf("accepted %+v", req)
		}
	})
}
