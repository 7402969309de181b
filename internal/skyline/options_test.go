package skyline

import (
	"testing"

	"github.com/BurntSushi/toml"
)

func TestOptionsTOML(t *testing.T) {
	const doc = `
[skyline]
pickle_address = "skyline.example.net:2024"
udp_address = "skyline.example.net:2025"
filter = 'ratio$'
`
	cfg := struct{ Skyline Options }{Skyline: DefaultOptions()}
	md, err := toml.Decode(doc, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	if u := md.Undecoded(); len(u) != 0 {
		t.Fatalf("undecoded keys %v", u)
	}
	o := cfg.Skyline
	// queue keeps its default when the file does not set it.
	if o.PickleAddress != "skyline.example.net:2024" || o.UDPAddress != "skyline.example.net:2025" || o.Filter != "ratio$" || o.Queue != DefaultQueue {
		t.Errorf("decoded %+v", o)
	}
	if err := o.Validate(); err != nil || !o.Enabled() {
		t.Errorf("Validate() = %v, Enabled() = %v", err, o.Enabled())
	}
	if DefaultOptions().Enabled() {
		t.Error("defaults enable a transport")
	}
}
