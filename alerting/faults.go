package alerting

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"
)

// FaultEnv names the environment variable that injects evaluator faults in
// freshtrack serve, for fault-injection tests of the commit → evaluation
// handoff. Unset in production, where it costs nothing.
const FaultEnv = "FRESHTRACK_FAULT_EVALUATE"

// ErrInjected is the error an injected fault fails an evaluation with.
var ErrInjected = errors.New("injected evaluation fault")

// ParseFault parses a FaultEnv value into a Config.Fault function: a comma
// separated list of
//
//	error=F    each evaluation fails with ErrInjected with probability F (0..1)
//	stall=D    the first evaluation waits D (a time.ParseDuration) before it runs
//	stall-every=D  every evaluation waits D
//
// An empty spec returns nil (no fault).
func ParseFault(spec string) (func(context.Context) error, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, nil
	}
	var (
		errRate          float64
		stall, stallEach time.Duration
	)
	for _, part := range strings.Split(spec, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, fmt.Errorf("%s: %q is not key=value", FaultEnv, part)
		}
		var err error
		switch k {
		case "error":
			errRate, err = strconv.ParseFloat(v, 64)
			if err == nil && (errRate < 0 || errRate > 1) {
				err = errors.New("must be between 0 and 1")
			}
		case "stall":
			stall, err = time.ParseDuration(v)
		case "stall-every":
			stallEach, err = time.ParseDuration(v)
		default:
			err = errors.New("unknown fault (error, stall, stall-every)")
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", FaultEnv, part, err)
		}
	}
	var once sync.Once
	return func(ctx context.Context) error {
		wait := stallEach
		once.Do(func() { wait += stall })
		if wait > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if errRate > 0 && rand.Float64() < errRate {
			return ErrInjected
		}
		return nil
	}, nil
}
