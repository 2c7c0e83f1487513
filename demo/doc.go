// Package demo creates a demo organisation with a small fleet and simulates
// its sensors through the public HTTP API: compressor cycles, door openings,
// and one fridge that slowly warms into an excursion.
//
// It seeds the organisation's rows in one transaction, then posts readings
// only through the public API, as a customer's fleet would, so the demo also
// exercises authentication, ingest and alerting end to end. Nothing in the
// server may import it.
package demo
