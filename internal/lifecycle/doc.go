// Package lifecycle starts a process's components in order and stops them in
// the reverse order, each stop with its own deadline: River's startstop
// services, reduced to what serve needs.
//
// A component is a [Service] (Start, then Stop with a context whose deadline
// bounds a graceful stop; a River client is one as it is), or [Hooks] around
// one that is not. Order is the contract: a component is started after what
// it consumes and stopped before it, so serve starts River, the alerting
// pipe, ingest and then the HTTP server, and a shutdown drains requests
// first, then flushes ingest, then finishes evaluation, then stops jobs.
//
// It owns ordering only; it must not know any component.
package lifecycle
