package collectors

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
)

// Lookup returns the environment variable name through env.Getenv, or
// os.Getenv when it is nil.
func (env Env) Lookup(name string) string {
	if env.Getenv != nil {
		return env.Getenv(name)
	}
	return os.Getenv(name)
}

// Secret reads a credential the way every collector takes one: from file
// when it is set (fileKey names that option in errors), else from the
// environment variable envName. Surrounding white space is trimmed (files
// end in a newline); an empty credential is an error. Errors name the
// vendor, the option, the file or the variable, never the value.
func (env Env) Secret(vendor, fileKey, file, envName string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("%s: %s: cannot read %s: %w", vendor, fileKey, file, reason(err))
		}
		s := strings.TrimSpace(string(b))
		if s == "" {
			return "", fmt.Errorf("%s: %s: %s is empty", vendor, fileKey, file)
		}
		return s, nil
	}
	s := strings.TrimSpace(env.Lookup(envName))
	if s == "" {
		return "", fmt.Errorf("%s: environment variable %s is not set", vendor, envName)
	}
	return s, nil
}

// Readable checks, for `validate`, that path names a file this process can
// open (without reading a secret into memory).
func Readable(path string) error {
	fh, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("cannot read %s: %w", path, reason(err))
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return fmt.Errorf("cannot read %s: %w", path, reason(err))
	}
	if st.IsDir() {
		return fmt.Errorf("%s is a directory", path)
	}
	return nil
}

// reason drops the path an *fs.PathError repeats, leaving its cause.
func reason(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// CheckURL checks an API base URL from the configuration:
// http(s)://host[:port][/path], without credentials (they would end up in
// logs), query or fragment (paths are appended to it).
func CheckURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		// Not quoted: an unparsable URL may still hold a password.
		return errors.New("not a URL (cannot be parsed)")
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("%q is not an http(s)://host[/path] URL", u.Redacted())
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q: no credentials, query or fragment allowed", u.Redacted())
	}
	return nil
}
