// Package steering records where a multi-CDN setup sends its traffic: the
// per-provider weights of each steered service, read every run from a JSON
// file, an HTTP endpoint serving the same JSON, or the weighted records of
// an Amazon Route 53 record set (ListResourceRecordSets).
//
// It emits <prefix>.steering.<service>.<provider>.weight, the provider's
// share (0–1) of the service's total weight, stamped with our clock aligned
// down to the minute: the weights say what is configured now, no vendor
// publishes them as a history. When any weight of a service changes it
// posts a cdn-steering event ("www: fastly 70→50, akamai 30→50") through
// Env.Events. The last weights seen are kept in state_dir, so a restart
// posts no event for weights that did not change; the first weights ever
// seen are not a change.
//
// What it cannot give: weights are not traffic. DNS resolvers cache
// answers for the record's TTL, and clients stay on a CDN for as long as
// their connections live, so observed request shares follow a weight
// change with a delay (compare puts both side by side). When every weight
// of a service is 0 there is no share to give: nothing is emitted for it,
// a warning is logged and <prefix>.cdnmetrics.steering.<service>.all_zero
// counts the runs (Route 53 itself then answers with every record equally).
package steering
