// Package eval measures the alert rules against a labelled corpus (package
// insight/corpus): the threshold rules alone (the baseline: alerting's
// state machines, run by alerting.Simulate, with no defrost pattern), and
// the full rule set (the same machines with the defrost pattern the
// detectors learned as of each moment, plus the detectors' signals). It is
// what `freshtrack eval alerts` prints.
//
// An alert is a true alarm when it opened within the window of a label of
// a compatible kind on its trace (Compatible); otherwise it is a false
// alarm, blamed on a defrost or a door opening when its excursion started
// during one, else on "other". A label is found when a compatible alert
// opened within its window. Alerts and labels before a trace's warm-up
// (its history, which the detectors learn from) are not scored, for either
// rule set.
package eval
