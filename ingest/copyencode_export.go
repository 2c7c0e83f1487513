package ingest

// EncodeCopyRows appends to dst[:0] one complete binary COPY payload (header,
// rows, trailer) for the columns (time, sensor_id, temp_c, humidity, battery),
// byte for byte what the writer streams to COPY readings, and returns it.
// NaN humidity or battery is encoded as NULL. The bench harness uses it to
// pre-encode the database's raw limit.
func EncodeCopyRows(dst []byte, rows []Row) []byte {
	e := copyEncoder{buf: dst[:0]}
	e.reset()
	for i := range rows {
		e.row(&rows[i], 0, false)
	}
	return e.finish()
}

// AppendCopyHeader, AppendCopyRow and AppendCopyTrailer build the same
// binary COPY stream as EncodeCopyRows a piece at a time, for a loader that
// streams more rows than it wants to hold (the seed import): the header
// once, then rows, then the trailer once. Each appends to dst and returns it.
func AppendCopyHeader(dst []byte) []byte { return append(dst, copyHeader...) }

// AppendCopyRow appends one row (see AppendCopyHeader).
func AppendCopyRow(dst []byte, r *Row) []byte {
	e := copyEncoder{buf: dst}
	e.row(r, 0, false)
	return e.buf
}

// AppendCopyTrailer ends the stream (see AppendCopyHeader).
func AppendCopyTrailer(dst []byte) []byte {
	e := copyEncoder{buf: dst}
	return e.finish()
}
