// Package config holds FreshTrack's one configuration struct: every setting
// with its default, the flags and environment variables that fill it, and the
// validation that names a bad field before anything starts.
//
// It owns parsing and validation only; it must not open connections or start
// anything (cmd/freshtrack does, once the configuration is valid).
package config
