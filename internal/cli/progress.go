package cli

import (
	"context"
	"fmt"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/sirocco-cloud/sirocco/api"
	"github.com/sirocco-cloud/sirocco/client"
)

// addWaitFlag adds --wait to a command that starts a long action.
func addWaitFlag(cmd *cobra.Command, def bool) *bool {
	w := new(bool)
	cmd.Flags().BoolVar(w, "wait", def, "wait until the operation finishes, showing its progress")
	return w
}

// follow finishes a command that started (or names) a long action: without
// wait it shows the operation and how to wait for it; with wait it shows
// progress on stderr until the operation ends, then the final operation, and
// fails with an opError unless it succeeded.
func (a *app) follow(ctx context.Context, c *client.Client, op *api.Operation, wait bool) error {
	return a.followTo(ctx, c, op, wait, false)
}

// followTo is follow; cancelled says whether the operation ending cancelled
// counts as success (it does when cancelling it was the point).
func (a *app) followTo(ctx context.Context, c *client.Client, op *api.Operation, wait, cancelled bool) error {
	if !wait || op.Done() {
		if err := show(a, op, operationCols); err != nil {
			return err
		}
		if !op.Done() {
			a.note("Operation %s is %s; follow it with: sirocco operation wait %s", op.ID, op.State, op.ID)
			return nil
		}
		return finished(op, cancelled)
	}
	p := a.progress(op)
	final, err := c.WaitOperation(ctx, op.ID, p.update)
	p.close(final)
	if final == nil || !final.Done() {
		if ctx.Err() != nil {
			return fmt.Errorf("stopped waiting; operation %s goes on (follow it with: sirocco operation wait %s)", op.ID, op.ID)
		}
		return err // the wait itself failed; a failed operation is reported below
	}
	if ok, err := a.encoded(final); ok {
		if err != nil {
			return err
		}
	} else if final.State != api.OpFailed {
		a.done("Operation %s (%s of %s %s) %s.", final.ID, final.Kind, final.Target.Kind, final.Target.ID, final.State)
	}
	return finished(final, cancelled)
}

// finished is the outcome of a finished operation as an error.
func finished(op *api.Operation, cancelledOK bool) error {
	if op.State == api.OpFailed || (op.State == api.OpCancelled && !cancelledOK) {
		return opError{op}
	}
	return nil
}

// progress shows an operation moving: a bar on a terminal, otherwise a line
// each time its state, progress or message changes.
type progress struct {
	a    *app
	bar  *progressbar.ProgressBar
	last string
}

func (a *app) progress(op *api.Operation) *progress {
	p := &progress{a: a}
	if _, tty := terminal(a.errw); tty {
		p.bar = progressbar.NewOptions(100,
			progressbar.OptionSetWriter(a.errw),
			progressbar.OptionSetDescription(describe(op)),
			progressbar.OptionSetPredictTime(false),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionSetRenderBlankState(true),
			progressbar.OptionSetWidth(30),
		)
	}
	return p
}

func describe(op *api.Operation) string {
	d := op.Kind + " " + op.Target.ID
	if op.Message != "" {
		d += ": " + op.Message
	}
	return d
}

func (p *progress) update(op api.Operation) {
	if p.bar != nil {
		p.bar.Describe(describe(&op))
		_ = p.bar.Set(op.Progress)
		return
	}
	line := fmt.Sprintf("operation %s (%s %s): %s %d%%", op.ID, op.Kind, op.Target.ID, op.State, op.Progress)
	if op.Message != "" {
		line += " " + op.Message
	}
	if line != p.last {
		p.last = line
		fmt.Fprintln(p.a.errw, line)
	}
}

func (p *progress) close(final *api.Operation) {
	if p.bar == nil {
		return
	}
	if final != nil && final.State == api.OpSucceeded {
		_ = p.bar.Finish()
	} else {
		_ = p.bar.Exit()
	}
	fmt.Fprintln(p.a.errw)
}
