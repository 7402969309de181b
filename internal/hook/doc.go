// Package hook is the daemon's deploy hook: an http.Handler for
// POST /hooks/deploy that turns a generic JSON body or a GitHub webhook
// (deployment, deployment_status, push) into a schema.Event and hands
// it to a callback (which posts the event and writes its metric form).
//
// Every request must prove it knows the shared secret, by
// "Authorization: Bearer <secret>" or by an HMAC-SHA256 signature of the raw
// body in X-Hub-Signature-256 (GitHub's scheme); both are compared in
// constant time. A hook without a secret refuses to start. A bearer token
// is checked before the body is read, and a request with neither is
// refused unread; only signed bodies are read before they are
// authenticated, at most max_inflight_bodies at once (more get 503 with
// Retry-After). The listener (internal/listen) keeps at most
// max_connections open and bounds every phase of a request in time.
// A rejected request (401, 400, 405, 413, 503) changes nothing.
// Deliveries carrying an id (X-GitHub-Delivery, or "id"/"delivery_id" in
// the generic body) are remembered in a bounded set persisted under the
// state directory, so a replay is ignored even after a restart; a delivery
// without an id is remembered by its content for dedupe_window, also
// across restarts.
package hook
