package ingest

import (
	"strings"
	"testing"
)

func TestConfigValidateNamesTheField(t *testing.T) {
	if err := (Config{}).WithDefaults().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, tc := range []struct {
		cfg  Config
		says string
	}{
		{Config{MaxBodyBytes: 10}, "MaxBodyBytes"},
		{Config{MaxReadings: 500, Writer: WriterConfig{QueueRows: 100}}, "QueueRows 100"},
		{Config{Limits: Limits{MinTempC: 5, MaxTempC: 5}}, "MinTempC"},
		{Config{Writer: WriterConfig{Writers: 100}}, "Writers 100"},
		{Config{Writer: WriterConfig{FlushDelay: -1}}, "FlushDelay"},
	} {
		err := tc.cfg.WithDefaults().Validate()
		if err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%+v: %v, want an error naming %s", tc.cfg, err, tc.says)
		}
	}
}
