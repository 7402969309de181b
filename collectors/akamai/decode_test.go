package akamai

import "github.com/BurntSushi/toml"

func decode(text string, v any) error {
	_, err := toml.Decode(text, v)
	return err
}
