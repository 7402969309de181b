package fastly

import "github.com/BurntSushi/toml"

// decodeTOML decodes a [fastly] section text into o, as the config
// package does.
func decodeTOML(text string, o *Options) (toml.MetaData, error) {
	var wrap struct {
		Fastly *Options `toml:"fastly"`
	}
	wrap.Fastly = o
	return toml.Decode(text, &wrap)
}
