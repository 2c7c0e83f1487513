// Package stripetest starts a stripe-mock (Stripe's own API mock, which
// validates every request against Stripe's OpenAPI document and answers
// from fixtures) for a test, installing it with go install when this
// machine has none.
//
// stripe-mock keeps no state: a read returns a fixture, not what an
// earlier call created. Tests of what FreshTrack stores therefore check
// its database; tests of what it sends check the requests (see Recorder).
package stripetest
