// Package jobs builds FreshTrack's River client: the one place that knows
// every worker, every queue and the periodic schedule. Capabilities define
// their job args and workers beside their logic; jobs imports them, and none
// of them imports jobs.
//
// It owns registration and scheduling only; a job's logic and SQL live with
// the capability that defines its args.
package jobs
