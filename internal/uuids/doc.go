// Package uuids checks identifiers before they reach a query.
//
// It owns syntax only and must not query anything: an id that is well formed
// may still name nothing, which its capability answers.
package uuids
