package alerting

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/freshtrack/freshtrack/ingest"
)

// Pipe is the commit → evaluation connection: every batch an ingest writer
// commits is evaluated by the alert rules right after its commit, and what
// cannot be evaluated now stays in evaluation_backlog for whichever process
// looks next (see Run for the durable handoff). It is the one place that
// joins ingest to alerting; serve builds it, starts it after the writer and
// stops it after the writer was closed.
type Pipe struct {
	ev     *Evaluator
	writer *ingest.Writer
	owner  *Owner
	log    *slog.Logger

	unsubscribe func()
	cancel      context.CancelFunc
	done        chan struct{}
}

// pipeBuffer is how many committed batches wait for the evaluator before a
// flush is left to the backlog (the channel is counted in batches; the
// writer also bounds its rows).
const pipeBuffer = 1024

// NewPipe connects writer's commits to ev. owner (from ev.Claim) must be
// the writer's WriterConfig.BacklogOwner; nil runs without the durable
// handoff (tools, tests).
func NewPipe(ev *Evaluator, writer *ingest.Writer, owner *Owner, log *slog.Logger) *Pipe {
	if log == nil {
		log = slog.Default()
	}
	return &Pipe{ev: ev, writer: writer, owner: owner, log: log}
}

// Start subscribes to the writer and evaluates in the background until the
// writer closes (everything committed was evaluated or handed on) or Stop.
// The evaluation outlives ctx's cancellation on purpose: a shutdown first
// closes the writer, and the pipe then finishes what was committed.
func (p *Pipe) Start(ctx context.Context) error {
	if p.done != nil {
		return fmt.Errorf("alerting: pipe started twice")
	}
	sub, unsubscribe := p.writer.Subscribe(pipeBuffer)
	evalCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p.unsubscribe, p.cancel, p.done = unsubscribe, cancel, make(chan struct{})
	go func() {
		defer close(p.done)
		if err := p.ev.Run(evalCtx, sub, p.owner); err != nil && evalCtx.Err() == nil {
			p.log.Error("alert evaluator stopped", "err", err)
		}
	}()
	return nil
}

// Drain waits up to timeout for the evaluation of what the writer committed,
// once the writer was closed. It reports whether it finished; what did not
// stays in the backlog for the next process.
func (p *Pipe) Drain(timeout time.Duration) bool {
	if p.done == nil {
		return true
	}
	select {
	case <-p.done:
		return true
	case <-time.After(timeout):
		return false
	}
}

// Stop ends the evaluation (what was not checkpointed stays in the backlog)
// and waits for it. It is safe to call after Drain, and more than once.
func (p *Pipe) Stop() {
	if p.done == nil {
		return
	}
	p.unsubscribe()
	p.cancel()
	<-p.done
}
