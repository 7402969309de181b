package collectors

import (
	"fmt"

	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// Two services whose names sanitise to the same Graphite node (schema.Sanitize
// folds case and turns dots, spaces and slashes into '_': "www.prod",
// "www prod" and "WWW_PROD" are all "www_prod") would write the same
// <prefix>.<provider>.<service> paths and overwrite each other's points.
// Configured names are checked by Validate (NameClashes); discovered names
// go through Env.PathNames, which keeps them apart at run time.

// ServiceRef is a service as a vendor knows it: its stable id and its name.
type ServiceRef struct {
	ID, Name string
}

// PathNamer decides the name each service of a provider uses in Graphite
// paths so that no two services share a path. A service that owns a path
// keeps it for good, across restarts; a service whose name clashes with
// another's path gets its id appended.
type PathNamer interface {
	PathNames(provider string, svcs []ServiceRef) []string
}

// PathNames returns the name each of svcs uses in paths (same order).
// Without a PathNamer (tests) the names are returned unchanged.
func (env Env) PathNames(provider string, svcs []ServiceRef) []string {
	if env.Paths != nil {
		return env.Paths.PathNames(provider, svcs)
	}
	names := make([]string, len(svcs))
	for i, s := range svcs {
		names[i] = s.Name
	}
	return names
}

// NameClashes returns a problem for every configured service whose name
// gives the same Graphite path node as an earlier one in the same section.
// keyOf(i) is the key of the i-th name ("fastly.service[1].name"); empty
// names (named later, from the vendor's API) are skipped.
func NameClashes(names []string, keyOf func(i int) string) []Problem {
	var ps []Problem
	first := map[string]int{}
	for i, n := range names {
		if n == "" {
			continue
		}
		node := schema.Sanitize(n)
		if j, dup := first[node]; dup {
			ps = append(ps, Problem{Key: keyOf(i), Message: fmt.Sprintf(
				"name %q gives the same Graphite path (%s) as %s %q: their points would overwrite each other; rename one",
				n, node, keyOf(j), names[j])})
			continue
		}
		first[node] = i
	}
	return ps
}

// ClaimPaths has every one of svcs, discovered from the vendor, claim its
// path name (Env.PathNames, by the id and label ref gives) and calls
// setPath on each one whose path name is not its label.
func ClaimPaths[S any](env Env, provider string, svcs []S, ref func(S) ServiceRef, setPath func(s *S, path string)) {
	refs := make([]ServiceRef, len(svcs))
	for i, s := range svcs {
		refs[i] = ref(s)
	}
	for i, n := range env.PathNames(provider, refs) {
		if n != refs[i].Name {
			setPath(&svcs[i], n)
		}
	}
}
