package hook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/cdnmetrics/cdnmetrics/internal/config"
	"github.com/cdnmetrics/cdnmetrics/internal/listen"
	"github.com/cdnmetrics/cdnmetrics/internal/redact"
	"github.com/cdnmetrics/cdnmetrics/internal/schema"
)

// Path is where the hook is served.
const Path = "/hooks/deploy"

// DefaultMaxDeliveries is how many delivery ids are remembered for replay
// protection by default.
const DefaultMaxDeliveries = 10000

// Callback receives every accepted event. It should queue the event
// durably (events.Recorder.PostEvent) and write its metric form; an error
// answers 500 and leaves the delivery id unrecorded, so the sender's retry
// is accepted.
type Callback func(ctx context.Context, ev schema.Event) error

// Option changes a Handler built by New.
type Option func(*Handler)

// WithLogger sets the logger. By default, slog.Default() is used.
func WithLogger(l *slog.Logger) Option { return func(h *Handler) { h.log = l } }

// WithClock sets the clock for events without a time. By default, time.Now.
func WithClock(now func() time.Time) Option { return func(h *Handler) { h.now = now } }

// WithMaxDeliveries bounds the remembered delivery ids. By default,
// DefaultMaxDeliveries.
func WithMaxDeliveries(n int) Option { return func(h *Handler) { h.maxSeen = n } }

// Handler is the deploy hook. Build it with New.
type Handler struct {
	secret    []byte
	secretSum [sha256.Size]byte
	maxBody   int64
	maxSeen   int
	maxConns  int
	gate      *listen.Gate // bodies read before authentication
	seen      *seenSet
	recent    *recentSet // nil when dedupe_window is 0
	cb        Callback
	log       *slog.Logger
	now       func() time.Time

	clockCheck           // event times ahead of our clock (payload.go)
	rejects    rejectLog // rejected requests, counted and rate-limited in the log (rejects.go)
}

// New builds the hook for the [hook] section cfg. The secret is read with
// getenv from cfg.SecretEnv; without one New fails, because the hook never
// runs unauthenticated. dir (state_dir/hook) keeps the delivery ids seen.
func New(cfg config.Hook, getenv func(string) string, dir string, cb Callback, opts ...Option) (*Handler, error) {
	if cfg.SecretEnv == "" {
		return nil, errors.New("hook: hook.secret_env is empty; the hook never runs unauthenticated")
	}
	secret := getenv(cfg.SecretEnv)
	if secret == "" {
		return nil, fmt.Errorf("hook: environment variable %s (hook.secret_env) is not set; the hook never runs unauthenticated", cfg.SecretEnv)
	}
	if strings.TrimSpace(secret) == "" {
		// White space is no secret: anyone can guess it.
		return nil, fmt.Errorf("hook: environment variable %s (hook.secret_env) holds only white space; the hook never runs unauthenticated", cfg.SecretEnv)
	}
	if cb == nil {
		return nil, errors.New("hook: no callback")
	}
	redact.AddSecret(secret)
	h := &Handler{
		secret:    []byte(secret),
		secretSum: sha256.Sum256([]byte(secret)),
		maxBody:   cfg.MaxBodyBytes,
		maxSeen:   DefaultMaxDeliveries,
		maxConns:  cfg.MaxConnections,
		gate:      listen.NewGate(cfg.MaxInflightBodies),
		cb:        cb,
		log:       slog.Default(),
		now:       time.Now,
	}
	if h.maxBody <= 0 {
		h.maxBody = 1 << 20
	}
	for _, o := range opts {
		o(h)
	}
	h.log = h.log.With("component", "hook")
	seen, err := openSeen(dir, h.maxSeen)
	if err != nil {
		return nil, err
	}
	h.seen = seen
	if cfg.DedupeWindow > 0 {
		if h.recent, err = openRecent(dir, time.Duration(cfg.DedupeWindow), h.maxSeen, h.now()); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// reply writes one line of text. Messages never hold the secret or the
// request's credentials.
func reply(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	io.WriteString(w, msg+"\n")
}

// ServeHTTP handles one delivery. Nothing reaches the callback unless the
// request is a POST, within the size limit, authenticated, well formed and
// not a replay. A bearer token is checked before the body is read; a
// request without one is refused unread unless it is signed, and signed
// bodies are read at most max_inflight_bodies at once (more get 503 with
// Retry-After), since only the body proves them.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	log := h.log.With("remote", r.RemoteAddr)
	if r.Method != http.MethodPost {
		h.reject(log, "method", "hook request rejected: not a POST", "method", r.Method)
		w.Header().Set("Allow", http.MethodPost)
		reply(w, http.StatusMethodNotAllowed, "method not allowed: use POST")
		return
	}
	bearer, why := h.checkBearer(r)
	sig := r.Header.Get("X-Hub-Signature-256")
	if why == "" && !bearer && sig == "" {
		why = "send Authorization: Bearer <secret> or X-Hub-Signature-256: sha256=<hmac of body>"
	}
	if why != "" {
		h.refuse(w, log, why)
		return
	}
	leave := func() {}
	if !bearer {
		var ok bool
		if leave, ok = h.gate.Enter(); !ok {
			h.reject(log, "busy", "hook request refused: too many unauthenticated bodies in flight", "max_inflight_bodies", h.gate.Cap())
			listen.Busy(w, "busy: too many requests being authenticated; retry later")
			return
		}
		defer leave()
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.reject(log, "too_large", "hook request rejected: body too large", "limit", h.maxBody)
			reply(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", h.maxBody))
			return
		}
		h.reject(log, "unreadable", "hook request rejected: cannot read its body", "err", err)
		reply(w, http.StatusBadRequest, "cannot read request body")
		return
	}
	if sig != "" {
		if why := h.checkSignature(sig, body); why != "" {
			h.refuse(w, log, why)
			return
		}
	}
	leave() // authenticated: the body no longer counts against the gate

	ghEvent := r.Header.Get("X-GitHub-Event")
	var (
		ev     schema.Event
		id     string
		ignore string
	)
	if err := checkEventName(ghEvent); err != nil {
		h.reject(log, "malformed", "hook request rejected: malformed", "err", err)
		reply(w, http.StatusBadRequest, "bad request: "+err.Error())
		return
	}
	if ghEvent != "" {
		ev, ignore, err = fromGitHub(ghEvent, body, h.now())
		if d := r.Header.Get("X-GitHub-Delivery"); d != "" {
			id = "github:" + d
		}
	} else {
		ev, id, err = fromGeneric(body, h.now())
		if id != "" {
			id = "generic:" + id
		}
	}
	err = h.checkClock(ev, h.now(), err)
	if err == nil {
		err = checkID(id)
	}
	if err != nil {
		reason := "malformed"
		if errors.Is(err, errAhead) {
			reason = "future" // counted in rejected_future by checkClock
		}
		h.reject(log, reason, "hook request rejected: malformed", "github_event", ghEvent, "err", err)
		reply(w, http.StatusBadRequest, "bad request: "+err.Error())
		return
	}
	if ignore != "" {
		log.Info("hook delivery ignored", "github_event", ghEvent, "delivery", id, "reason", ignore)
		reply(w, http.StatusOK, "ignored: "+ignore)
		return
	}
	if id != "" && !h.seen.begin(id) {
		log.Info("hook delivery replayed; ignored", "delivery", id)
		reply(w, http.StatusOK, "ignored: delivery "+strings.SplitN(id, ":", 2)[1]+" was already received")
		return
	}
	// Without an id, the content is the identity: the same body again
	// within dedupe_window is the same deploy posted twice.
	content := ""
	if id == "" && h.recent != nil {
		content = contentKey(ghEvent, body)
		if !h.recent.begin(content, h.now()) {
			log.Info("hook delivery repeated; ignored", "content", content[:16], "dedupe_window", h.recent.window)
			reply(w, http.StatusOK, fmt.Sprintf("ignored: the same body was received less than %s ago", h.recent.window))
			return
		}
	}
	if err := h.cb(r.Context(), ev); err != nil {
		if id != "" {
			h.seen.abort(id)
		}
		if content != "" {
			h.recent.abort(content)
		}
		log.Error("hook event not recorded", "what", ev.What, "delivery", id, "err", err)
		reply(w, http.StatusInternalServerError, "event not recorded; retry the delivery")
		return
	}
	if id != "" {
		if err := h.seen.commit(id); err != nil {
			// The event is recorded; only replay protection for this
			// id after a restart is lost.
			log.Error("hook delivery id not persisted", "delivery", id, "err", err)
		}
	}
	if content != "" {
		if err := h.recent.commit(content, h.now()); err != nil {
			log.Error("hook delivery content not persisted", "content", content[:16], "err", err)
		}
	}
	log.Info("hook event accepted", "what", ev.What, "tags", ev.Tags, "when", ev.When.UTC().Format(time.RFC3339), "delivery", id, "github_event", ghEvent)
	reply(w, http.StatusAccepted, fmt.Sprintf("accepted: %s event at %s, tags %s",
		ev.What, ev.When.UTC().Format(time.RFC3339), strings.Join(ev.Tags, ",")))
}

// refuse answers 401 and closes the connection, so that an unread body is
// not drained first.
func (h *Handler) refuse(w http.ResponseWriter, log *slog.Logger, why string) {
	h.reject(log, "unauthenticated", "hook request rejected: unauthenticated", "reason", why)
	w.Header().Set("Connection", "close")
	reply(w, http.StatusUnauthorized, "unauthorized: "+why)
}

// checkBearer checks a bearer token, which needs no body: ok when one was
// presented and is right, why (never echoing it) when one was presented
// and is wrong. A non-Bearer Authorization (a proxy's basic auth) is not
// ours.
func (h *Handler) checkBearer(r *http.Request) (ok bool, why string) {
	tok, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !found {
		return false, ""
	}
	// Hash first so the comparison does not leak the length.
	sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	if subtle.ConstantTimeCompare(sum[:], h.secretSum[:]) != 1 {
		return false, "wrong bearer token"
	}
	return true, ""
}

// checkSignature checks X-Hub-Signature-256 against body; "" when it
// matches, else why not.
func (h *Handler) checkSignature(sig string, body []byte) string {
	hexSig, ok := strings.CutPrefix(sig, "sha256=")
	got, err := hex.DecodeString(hexSig)
	if !ok || err != nil {
		return "X-Hub-Signature-256 is not sha256=<hex>"
	}
	mac := hmac.New(sha256.New, h.secret)
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return "signature does not match the body"
	}
	return ""
}

// checkEventName refuses an X-GitHub-Event that is not an event name
// (GitHub's are lower case words joined by _): it is quoted in answers
// and logs.
func checkEventName(name string) error {
	if len(name) > 64 {
		return errors.New("X-GitHub-Event longer than 64 bytes")
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return errors.New("X-GitHub-Event is not an event name")
		}
	}
	return nil
}

// checkID refuses delivery ids that could break the id file.
func checkID(id string) error {
	if len(id) > 200 {
		return errors.New("delivery id longer than 200 bytes")
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c == 0x7f {
			return errors.New("delivery id contains white space or control characters")
		}
	}
	return nil
}

// ServeListener serves h at Path on l until ctx is done, then shuts down,
// letting requests in flight finish for up to 10 s. Other paths answer 404.
// The listener's connections are capped at max_connections (see
// listen.LimitListener) whoever opened it.
func ServeListener(ctx context.Context, l net.Listener, h http.Handler, log *slog.Logger) error {
	if log == nil {
		log = slog.Default()
	}
	mux := http.NewServeMux()
	mux.Handle(Path, h)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		reply(w, http.StatusNotFound, "not found: the deploy hook is POST "+Path)
	})
	log.Info("deploy hook listening", "addr", l.Addr().String(), "path", Path)
	if err := listen.Serve(ctx, l, listen.NewServer(mux, log), maxConns(h)); err != nil {
		return fmt.Errorf("hook: %w", err)
	}
	return nil
}

// maxConns is the hook's max_connections; the default for another handler.
func maxConns(h http.Handler) int {
	if hh, ok := h.(*Handler); ok {
		return hh.maxConns
	}
	return listen.DefaultMaxConnections
}
