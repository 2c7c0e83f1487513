package auth_test

import (
	"testing"

	"github.com/freshtrack/freshtrack/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }
