package collectors

import (
	"fmt"
	"strings"
)

// ServiceError is a collector's error naming the service it belongs to
// ("bunny: pull zone img (42): …"), or none for a failure of the whole
// account (discovery). Its message never holds Secret, even when a vendor
// or a proxy echoes the request into a body that httpx quotes.
type ServiceError struct {
	Provider string // "bunny"; a leading "bunny: " of Err is not repeated
	Kind     string // what the vendor calls a service: "pull zone", "zone"
	Name, ID string // the service's path name and id; ID "" for the account
	Secret   string // the credential, replaced by [redacted]
	Err      error
}

func (e *ServiceError) Error() string {
	msg := strings.TrimPrefix(e.Err.Error(), e.Provider+": ")
	if e.Secret != "" {
		msg = strings.ReplaceAll(msg, e.Secret, "[redacted]")
	}
	if e.ID == "" {
		return e.Provider + ": " + msg
	}
	return fmt.Sprintf("%s: %s %s (%s): %s", e.Provider, e.Kind, e.Name, e.ID, msg)
}

// Unwrap returns Err.
func (e *ServiceError) Unwrap() error { return e.Err }
