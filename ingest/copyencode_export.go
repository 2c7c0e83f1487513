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
