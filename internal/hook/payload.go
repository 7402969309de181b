package hook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/cdnmetrics/cdnmetrics/collectors"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// Limits on what one event may carry.
const (
	maxWhat     = 128
	maxTags     = 32
	maxTagLen   = 128
	maxData     = 4096
	maxFuture   = 24 * time.Hour
	defaultWhat = "deploy"
)

// minWhen is the earliest accepted event time: anything before 2000 is a
// unit or parsing mistake.
var minWhen = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// generic is the body of a non-GitHub delivery.
type generic struct {
	What       *string         `json:"what"`
	Tags       json.RawMessage `json:"tags"`
	Data       *string         `json:"data"`
	When       json.RawMessage `json:"when"`
	ID         json.RawMessage `json:"id"`
	DeliveryID json.RawMessage `json:"delivery_id"`
}

// fromGeneric parses {"what","tags","data","when","id"|"delivery_id"}.
func fromGeneric(body []byte, now time.Time) (schema.Event, string, error) {
	var g generic
	if err := decodeStrict(body, &g); err != nil {
		return schema.Event{}, "", err
	}
	ev := schema.Event{What: defaultWhat, When: now}
	if g.What != nil {
		ev.What = strings.TrimSpace(*g.What)
		if ev.What == "" {
			return ev, "", errors.New(`"what" is empty`)
		}
	}
	tags, err := parseTags(g.Tags)
	if err != nil {
		return ev, "", err
	}
	ev.Tags = tags
	if g.Data != nil {
		ev.Data = *g.Data
	}
	if len(g.When) > 0 && string(g.When) != "null" {
		if ev.When, err = parseWhen(g.When, now); err != nil {
			return ev, "", err
		}
	}
	id, err := parseID(g.ID, "id")
	if err != nil {
		return ev, "", err
	}
	did, err := parseID(g.DeliveryID, "delivery_id")
	if err != nil {
		return ev, "", err
	}
	if id != "" && did != "" && id != did {
		return ev, "", errors.New(`"id" and "delivery_id" differ`)
	}
	if id == "" {
		id = did
	}
	ev, err = finish(ev)
	return ev, id, err
}

// decodeStrict decodes exactly one JSON object, refusing unknown fields so
// that a typo ("tag") is reported rather than silently dropped.
func decodeStrict(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return errors.New("empty body; send a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("invalid JSON body: %v", err)
	}
	if dec.More() {
		return errors.New("invalid JSON body: more than one value")
	}
	return nil
}

// parseTags accepts a list of strings or one space-separated string, as
// graphite-web does.
func parseTags(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var list []string
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		list = []string{one}
	} else if err := json.Unmarshal(raw, &list); err != nil {
		return nil, errors.New(`"tags" must be a list of strings or a space-separated string`)
	}
	var out []string
	for _, t := range list {
		out = append(out, strings.Fields(t)...)
	}
	return out, nil
}

// parseWhen accepts epoch seconds (number or decimal string) or RFC 3339.
func parseWhen(raw json.RawMessage, now time.Time) (time.Time, error) {
	var secs float64
	var s string
	switch {
	case json.Unmarshal(raw, &secs) == nil:
	case json.Unmarshal(raw, &s) == nil:
		if t, err := time.Parse(time.RFC3339, s); err == nil {
			return checkWhen(t, now)
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf(`"when" %q is neither epoch seconds nor RFC 3339`, s)
		}
		secs = v
	default:
		return time.Time{}, errors.New(`"when" must be epoch seconds or an RFC 3339 string`)
	}
	if math.IsNaN(secs) || math.IsInf(secs, 0) {
		return time.Time{}, errors.New(`"when" is not a finite number`)
	}
	if secs > 1e11 {
		return time.Time{}, fmt.Errorf(`"when" %.0f looks like milliseconds; send seconds`, secs)
	}
	return checkWhen(time.Unix(int64(secs), 0), now)
}

func checkWhen(t, now time.Time) (time.Time, error) {
	if t.Before(minWhen) {
		return t, fmt.Errorf(`"when" %s is before 2000`, t.UTC().Format(time.RFC3339))
	}
	// graphite-web does not return events in the future until their time
	// comes: far ahead is a clock or unit mistake. The handler's clock
	// check (clock_skew_tolerance) is tighter; this bound keeps the parser
	// safe on its own.
	if t.After(now.Add(maxFuture)) {
		return t, fmt.Errorf(`"when" %s is more than %s in the future: %w`, t.UTC().Format(time.RFC3339), maxFuture, errAhead)
	}
	return t, nil
}

// errAhead marks an event time ahead of our clock.
var errAhead = errors.New("ahead of our clock")

// clockCheck is the Handler's guard against event times ahead of our
// clock: no sender's clock is trusted beyond ours.
type clockCheck struct {
	tolerance      time.Duration // 0: collectors.DefaultClockSkewTolerance
	rejectedFuture atomic.Int64
}

// WithClockSkewTolerance sets how far ahead of the hook's clock an event
// time ("when", GitHub's pushed_at or created_at) may be before the
// delivery is refused with 400. By default,
// collectors.DefaultClockSkewTolerance (5m; the config's
// clock_skew_tolerance).
func WithClockSkewTolerance(d time.Duration) Option {
	return func(h *Handler) { h.clockCheck.tolerance = d }
}

// RejectedFuture is how many deliveries were refused because their event
// time was ahead of our clock; the daemon writes it as a self-metric.
func (h *Handler) RejectedFuture() int64 { return h.clockCheck.rejectedFuture.Load() }

// checkClock returns parseErr, or an error when ev's time is more than the
// tolerance ahead of now; either way an event time ahead of our clock is
// counted.
func (c *clockCheck) checkClock(ev schema.Event, now time.Time, parseErr error) error {
	if parseErr != nil {
		if errors.Is(parseErr, errAhead) {
			c.rejectedFuture.Add(1)
		}
		return parseErr
	}
	tol := c.tolerance
	if tol <= 0 {
		tol = collectors.DefaultClockSkewTolerance
	}
	if ev.When.After(now.Add(tol)) {
		c.rejectedFuture.Add(1)
		return fmt.Errorf("event time %s is more than %s %w (%s; clock_skew_tolerance)",
			ev.When.UTC().Format(time.RFC3339), tol, errAhead, now.UTC().Format(time.RFC3339))
	}
	return nil
}

func parseID(raw json.RawMessage, key string) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String(), nil
	}
	return "", fmt.Errorf("%q must be a string or a number", key)
}

// finish applies the limits and the default tag: an event without tags is
// tagged with its what, so events('deploy') finds {"what":"deploy"}.
func finish(ev schema.Event) (schema.Event, error) {
	if len(ev.What) > maxWhat || !utf8.ValidString(ev.What) {
		return ev, fmt.Errorf(`"what" is longer than %d bytes or not UTF-8`, maxWhat)
	}
	if len(ev.Tags) == 0 {
		ev.Tags = strings.Fields(ev.What)
	}
	if len(ev.Tags) > maxTags {
		return ev, fmt.Errorf("more than %d tags", maxTags)
	}
	for _, t := range ev.Tags {
		if len(t) > maxTagLen || !utf8.ValidString(t) {
			return ev, fmt.Errorf("a tag is longer than %d bytes or not UTF-8", maxTagLen)
		}
	}
	if len(ev.Data) > maxData {
		return ev, fmt.Errorf(`"data" is longer than %d bytes`, maxData)
	}
	return ev, nil
}

// GitHub payload shapes: only the fields used (names from GitHub's webhook
// documentation for the deployment, deployment_status and push events).
type ghRepo struct {
	FullName string          `json:"full_name"`
	PushedAt json.RawMessage `json:"pushed_at"` // epoch seconds in push events
}

type ghUser struct {
	Login string `json:"login"`
}

type ghDeployment struct {
	SHA         string  `json:"sha"`
	Ref         string  `json:"ref"`
	Task        string  `json:"task"`
	Environment string  `json:"environment"`
	Description *string `json:"description"`
	Creator     *ghUser `json:"creator"`
	CreatedAt   string  `json:"created_at"`
}

type ghDeploymentStatus struct {
	State       string  `json:"state"`
	Environment string  `json:"environment"`
	Description *string `json:"description"`
	TargetURL   string  `json:"target_url"`
	LogURL      string  `json:"log_url"`
	CreatedAt   string  `json:"created_at"`
	Creator     *ghUser `json:"creator"`
}

type ghPayload struct {
	Deployment       *ghDeployment       `json:"deployment"`
	DeploymentStatus *ghDeploymentStatus `json:"deployment_status"`
	Repository       *ghRepo             `json:"repository"`
	Sender           *ghUser             `json:"sender"`
	// push
	Ref        string `json:"ref"`
	After      string `json:"after"`
	Deleted    bool   `json:"deleted"`
	HeadCommit *struct {
		ID      string `json:"id"`
		Message string `json:"message"`
	} `json:"head_commit"`
	Pusher *struct {
		Name string `json:"name"`
	} `json:"pusher"`
}

// fromGitHub builds the event of one GitHub webhook delivery. A delivery
// that is valid but not a deploy (ping, a pending status, a branch
// deletion, another event type) returns a non-empty ignore reason.
func fromGitHub(kind string, body []byte, now time.Time) (ev schema.Event, ignore string, err error) {
	var p ghPayload
	if len(bytes.TrimSpace(body)) == 0 {
		return ev, "", errors.New("empty body; GitHub sends a JSON payload")
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return ev, "", fmt.Errorf("invalid JSON payload for %s: %v", kind, err)
	}
	repo := ""
	if p.Repository != nil {
		repo = p.Repository.FullName
	}
	switch kind {
	case "ping":
		return ev, "ping received; the hook is reachable and the secret matches", nil
	case "deployment":
		d := p.Deployment
		if d == nil || d.SHA == "" {
			return ev, "", errors.New("deployment payload has no deployment.sha")
		}
		ev = schema.Event{What: "deploy", When: ghTime(d.CreatedAt, now)}
		ev.Tags = ghTags("deploy", d.Environment, repo)
		ev.Data = describe(repo, d.Ref, d.SHA, d.Environment, login(d.Creator, p.Sender), deref(d.Description))
	case "deployment_status":
		s, d := p.DeploymentStatus, p.Deployment
		if s == nil || d == nil || s.State == "" {
			return ev, "", errors.New("deployment_status payload has no deployment_status.state or deployment")
		}
		what := ""
		switch s.State {
		case "success":
			what = "deploy"
		case "failure", "error":
			what = "deploy_failed"
		default:
			return ev, fmt.Sprintf("deployment_status state %q is not final", s.State), nil
		}
		env := s.Environment
		if env == "" {
			env = d.Environment
		}
		ev = schema.Event{What: what, When: ghTime(s.CreatedAt, now)}
		ev.Tags = ghTags(what, env, repo)
		desc := deref(s.Description)
		if desc == "" {
			desc = deref(d.Description)
		}
		ev.Data = describe(repo, d.Ref, d.SHA, env, login(s.Creator, p.Sender), desc)
		if u := firstNonEmpty(s.LogURL, s.TargetURL); u != "" {
			ev.Data += " " + u
		}
	case "push":
		if p.Ref == "" {
			return ev, "", errors.New("push payload has no ref")
		}
		if p.Deleted || p.HeadCommit == nil {
			return ev, "push deleted " + p.Ref + "; nothing deployed", nil
		}
		branch := strings.TrimPrefix(strings.TrimPrefix(p.Ref, "refs/heads/"), "refs/tags/")
		when := now
		if p.Repository != nil {
			var secs int64
			if json.Unmarshal(p.Repository.PushedAt, &secs) == nil && secs > 0 {
				when = time.Unix(secs, 0)
			}
		}
		ev = schema.Event{What: "deploy", When: when}
		ev.Tags = append(ghTags("deploy", "", repo), "push", branch)
		pusher := ""
		if p.Pusher != nil {
			pusher = p.Pusher.Name
		}
		msg, _, _ := strings.Cut(p.HeadCommit.Message, "\n")
		ev.Data = describe(repo, p.Ref, firstNonEmpty(p.HeadCommit.ID, p.After), "", pusher, msg)
	default:
		return ev, fmt.Sprintf("GitHub event %q is not handled (use deployment, deployment_status or push)", kind), nil
	}
	ev.Tags = dedupe(ev.Tags)
	if len(ev.Data) > maxData {
		ev.Data = ev.Data[:maxData]
		for !utf8.ValidString(ev.Data) {
			ev.Data = ev.Data[:len(ev.Data)-1]
		}
	}
	ev, err = finish(ev)
	return ev, "", err
}

func ghTags(what, env, repo string) []string {
	tags := []string{what}
	tags = append(tags, strings.Fields(env)...)
	tags = append(tags, strings.Fields(repo)...)
	return append(tags, "github")
}

// ghTime parses GitHub's timestamps (ISO 8601 UTC); now when absent. A
// time ahead of our clock is kept, so the handler's clock check refuses
// it rather than the event landing silently at another time.
func ghTime(s string, now time.Time) time.Time {
	if t, err := time.Parse(time.RFC3339, s); err == nil && !t.Before(minWhen) {
		return t
	}
	return now
}

// describe is the event's data: "octo/app main@abc1234 to production by
// octocat: text".
func describe(repo, ref, sha, env, who, text string) string {
	var b strings.Builder
	b.WriteString(firstNonEmpty(repo, "unknown repository"))
	if ref != "" {
		b.WriteString(" " + ref)
	}
	if sha != "" {
		b.WriteString("@" + short(sha))
	}
	if env != "" {
		b.WriteString(" to " + env)
	}
	if who != "" {
		b.WriteString(" by " + who)
	}
	if text = strings.TrimSpace(text); text != "" {
		b.WriteString(": " + text)
	}
	return b.String()
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

func login(us ...*ghUser) string {
	for _, u := range us {
		if u != nil && u.Login != "" {
			return u.Login
		}
	}
	return ""
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	out := in[:0]
	for _, t := range in {
		if t != "" && !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}
