// Package hook is the daemon's deploy hook: an http.Handler for
// POST /hooks/deploy that turns a generic JSON body or a GitHub webhook
// (deployment, deployment_status, push) into a collectors.Event and hands
// it to a callback (which posts the event and writes its metric form).
//
// Every request must prove it knows the shared secret, by
// "Authorization: Bearer <secret>" or by an HMAC-SHA256 signature of the raw
// body in X-Hub-Signature-256 (GitHub's scheme); both are compared in
// constant time. A hook without a secret refuses to start. A rejected
// request (401, 400, 405, 413) changes nothing. Deliveries carrying an id
// (X-GitHub-Delivery, or "id"/"delivery_id" in the generic body) are
// remembered in a bounded set persisted under the state directory, so a
// replay is ignored even after a restart.
package hook
