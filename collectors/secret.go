package collectors

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"runtime"
	"strings"

	"github.com/cdnmetrics/cdnmetrics/internal/redact"
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
		env.WarnSecretFile(vendor+"."+fileKey, file)
		redact.AddSecret(s)
		return s, nil
	}
	if err := env.CheckSecretEnv(envName); err != nil {
		return "", fmt.Errorf("%s: %w", vendor, err)
	}
	s := strings.TrimSpace(env.Lookup(envName))
	redact.AddSecret(s)
	return s, nil
}

// CheckSecretEnv is the check `validate` and Secret run on a credential
// taken from the environment variable name: an error when it is unset or
// holds only white space (Secret trims it to nothing, e.g. `export
// TOKEN=" "`). The error names the variable, never the value.
func (env Env) CheckSecretEnv(name string) error {
	v := env.Lookup(name)
	switch {
	case v == "":
		return fmt.Errorf("environment variable %s is not set", name)
	case strings.TrimSpace(v) == "":
		return fmt.Errorf("environment variable %s holds only white space", name)
	}
	return nil
}

// SecretFileWarning returns why the file at path, which holds a
// credential, is exposed: readable or writable by its group or by others
// (a key anyone on the host can read, or replace). It returns "" when only
// its owner has access, and when path cannot be examined (the read that
// follows reports that). This one rule serves every secret file: token
// files, client secret files, .edgerc.
func SecretFileWarning(path string) string {
	if runtime.GOOS == "windows" {
		return "" // permission bits do not describe access there
	}
	fi, err := os.Stat(path)
	if err != nil || fi.IsDir() {
		return ""
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Sprintf("%s holds a secret and is accessible to others (mode %v): chmod 600 %s", path, perm, path)
	}
	return ""
}

// CheckSecretFile is the check `validate` runs on every secret file: err
// when this process cannot read it or it holds only white space (Secret
// would refuse it), else a warning (SecretFileWarning) when others can.
func CheckSecretFile(path string) (warning string, err error) {
	if err := Readable(path); err != nil {
		return "", err
	}
	if blank, err := blankFile(path); err != nil {
		return "", err
	} else if blank {
		return "", fmt.Errorf("%s is empty", path)
	}
	return SecretFileWarning(path), nil
}

// blankFile reports whether the file at path holds nothing but white
// space. It reads at most 1 MiB (no credential is longer; a longer file
// is not blank) and keeps no copy of what it read.
func blankFile(path string) (bool, error) {
	fh, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("cannot read %s: %w", path, reason(err))
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, 1<<20))
	if err != nil {
		return false, fmt.Errorf("cannot read %s: %w", path, reason(err))
	}
	blank := len(bytes.TrimSpace(b)) == 0
	clear(b)
	return blank, nil
}

// WarnSecretFile logs, once per start, the SecretFileWarning of the
// secret file path configured under key (e.g. "fastly.token_file").
func (env Env) WarnSecretFile(key, path string) {
	if w := SecretFileWarning(path); w != "" {
		log := env.Logger
		if log == nil {
			log = slog.Default()
		}
		log.Warn("secret file readable by others", "key", key, "warning", w)
	}
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
		return fmt.Errorf("%q is not an http(s)://host[/path] URL", RedactURL(u))
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q: no credentials, query or fragment allowed", RedactURL(u))
	}
	return nil
}

// Credential is a secret a section configures the way Env.Secret reads
// it: a file, else an environment variable.
type Credential struct {
	FileKey, File string // the file option ("token_file") and its value
	EnvKey, Env   string // the variable option ("token_env") and its value
	// Missing is the problem when neither is set; by default "set
	// <EnvKey> (an environment variable name) or <FileKey>".
	Missing string
}

// CredentialProblems is what `validate` says of c, so that it refuses
// what Env.Secret would refuse at start: an unreadable file (a warning
// when others can read it, see CheckSecretFile), no variable name, or a
// variable that is not set or holds only white space. Keys are prefixed by section ("bunny",
// "edgecast.oauth").
func (env Env) CredentialProblems(section string, c Credential) []Problem {
	key := func(k string) string { return section + "." + k }
	switch {
	case c.File != "":
		if warn, err := CheckSecretFile(c.File); err != nil {
			return []Problem{{Key: key(c.FileKey), Message: err.Error()}}
		} else if warn != "" {
			return []Problem{{Key: key(c.FileKey), Message: warn, Warning: true}}
		}
	case c.Env == "":
		msg := c.Missing
		if msg == "" {
			msg = fmt.Sprintf("set %s (an environment variable name) or %s", c.EnvKey, c.FileKey)
		}
		return []Problem{{Key: key(c.EnvKey), Message: msg}}
	default:
		if err := env.CheckSecretEnv(c.Env); err != nil {
			return []Problem{{Key: key(c.EnvKey), Message: err.Error()}}
		}
	}
	return nil
}

// RedactURL is u for an error message: its password, query and
// fragment (which may hold a key, ?api_key=…) replaced by xxxxx.
func RedactURL(u *url.URL) string {
	c := *u
	if c.RawQuery != "" || c.ForceQuery {
		c.RawQuery, c.ForceQuery = "xxxxx", false
	}
	if c.Fragment != "" {
		c.Fragment, c.RawFragment = "xxxxx", ""
	}
	return c.Redacted()
}
