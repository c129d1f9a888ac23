package cron

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/dcehost/dcehost/internal/cli/factory"
	dcron "github.com/dcehost/dcehost/internal/cron"
	"github.com/dcehost/dcehost/internal/failure"
)

// RemoveOptions are the parsed command line of `cron remove`.
type RemoveOptions struct {
	Common
}

// NewCmdRemove returns `dcehost cron remove`.
func NewCmdRemove(f *factory.Factory, runF func(*RemoveOptions) error) *cobra.Command {
	opts := &RemoveOptions{}
	cmd := &cobra.Command{
		Use:   "remove",
		Short: "Remove the crontab block, leaving every other line as it is",
		Long: `Remove the block "# BEGIN <job-name>" ... "# END <job-name>" from your crontab.
Every other line is kept byte for byte; the previous crontab is saved first.
Without such a block nothing is changed.`,
		Example: `  dcehost cron remove --dry-run
  dcehost cron remove --job-name discord-weekdays`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			opts.fill(f)
			if runF != nil {
				return runF(opts)
			}
			return runRemove(c.Context(), opts)
		},
	}
	addCommonFlags(cmd, &opts.Common, true)
	return cmd
}

func runRemove(ctx context.Context, o *RemoveOptions) error {
	if err := o.checkJobName(); err != nil {
		return err
	}
	if o.Systemd {
		return runRemoveSystemd(ctx, o)
	}
	ct := o.crontab()
	current, err := ct.Read(ctx)
	if err != nil {
		return fmt.Errorf("read the crontab: %w", err)
	}
	next, changed, err := dcron.Remove(current, o.JobName)
	if err != nil {
		return failure.Usage(err)
	}
	out := o.IO.Out
	if !changed {
		fmt.Fprintf(out, "no cron job %q in the crontab; nothing changed.\n", o.JobName)
		return nil
	}
	if o.DryRun {
		fmt.Fprint(out, diff("crontab", current, next, "remove"))
		fmt.Fprintln(out, "dry run: the crontab was not changed.")
		return nil
	}
	saved, err := o.change(ctx, ct, current, next)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "removed cron job %q\nprevious crontab saved to %s\n", o.JobName, saved)
	return nil
}
