// Package problem writes RFC 9457 problem details (application/problem+json),
// the one error shape of FreshTrack's HTTP API.
//
// It owns the shape of an error answer only; it must not decide which error a
// capability's failure becomes (api does, in capabilityError and friends).
package problem
