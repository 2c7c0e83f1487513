package alerting

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/freshtrack/freshtrack/ingest"
)

// Pipe is the commit → evaluation connection: every batch an ingest writer
// commits is evaluated by the alert rules right after its commit, and what
// cannot be evaluated now stays in evaluation_backlog for whichever process
// looks next (see Run for the durable handoff). It is the one place that
// joins ingest to alerting; serve builds it, and starts it (a
// lifecycle.Service) before ingest so that it stops after the writer closed.
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

// Stop finishes the evaluation of what the writer committed, which a
// shutdown closes first, waiting until ctx is done; then it ends the
// evaluation and waits for it. What was not evaluated by then stays in the
// backlog for the next process: that is logged, not returned, since nothing
// is lost. It is safe to call more than once.
func (p *Pipe) Stop(ctx context.Context) error {
	if p.done == nil {
		return nil
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		p.log.Warn("alert evaluation did not finish before the shutdown timeout; the next start evaluates the rest")
	}
	p.unsubscribe()
	p.cancel()
	<-p.done
	return nil
}
