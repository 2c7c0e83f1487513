// Package httpbody is the one reader of request bodies for every route: it
// admits a bounded number of body reads at a time, reads the raw bytes from
// the connection with a limit, decompresses gzip and deflate with the same
// limit, and answers problem+json when a body is too large, compressed in an
// unknown way or corrupt.
//
// The server runs with Fiber's StreamRequestBody, so a handler is called
// once the headers are in and nothing beyond the first few kilobytes of the
// body has been read: whatever a client sends, no more of it reaches memory
// than a route's limit, and only for as many requests at once as the
// Admission allows. No handler may call c.Body() on a body Read has not
// read: Fiber's Body() reads and decompresses without any limit.
//
// It owns transport only: sizes, encodings, admission and JSON text
// well-formedness. It must not know any route's schema or any capability.
package httpbody
