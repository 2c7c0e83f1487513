// Package corpus generates the labelled traces that `freshtrack eval alerts`
// measures the alert rules against: units of the kinds a kitchen has, with
// the readings their sensors would send (1 to 5 minute intervals, sensor
// noise, compressor cycles, defrosts, door openings), and labelled with what
// a person would want to be told and when.
//
// Generation is seeded and deterministic: the same Options give the same
// traces, byte for byte. The scenarios are modelled on how the equipment
// behaves (compressor duty cycles, defrost heaters, Newton's law of
// cooling), not on how the detectors work: ordinary days carry the benign
// events (defrosts, short door openings) that a threshold alert gets wrong,
// and the real events are rare and varied.
package corpus
