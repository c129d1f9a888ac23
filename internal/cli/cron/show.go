package cron

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dcehost/dcehost/internal/cli/factory"
	dcron "github.com/dcehost/dcehost/internal/cron"
	"github.com/dcehost/dcehost/internal/failure"
)

// ShowOptions are the parsed command line of `cron show`.
type ShowOptions struct {
	Common
}

// NoJobError: the crontab has no block of the job, or (with Where set)
// there is no timer file Where (exit 1).
type NoJobError struct {
	Name  string
	Where string
}

func (e *NoJobError) Error() string {
	if e.Where != "" {
		return fmt.Sprintf("no systemd timer %s.timer: %s does not exist (install one with 'dcehost cron install --systemd')", e.Name, e.Where)
	}
	return fmt.Sprintf("no cron job %q in the crontab (install one with 'dcehost cron install')", e.Name)
}

// NewCmdShow returns `dcehost cron show`.
func NewCmdShow(f *factory.Factory, runF func(*ShowOptions) error) *cobra.Command {
	opts := &ShowOptions{}
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Show the installed crontab block, its schedule in words and the next runs",
		Long: `Print the installed block "# BEGIN <job-name>" ... "# END <job-name>", its
schedule in words and the next three run times. Exits 1 when there is none.`,
		Example: `  dcehost cron show
  dcehost cron show --job-name discord-weekdays`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			opts.fill(f)
			if runF != nil {
				return runF(opts)
			}
			return runShow(c.Context(), opts)
		},
	}
	addCommonFlags(cmd, &opts.Common, false)
	return cmd
}

func runShow(ctx context.Context, o *ShowOptions) error {
	if err := o.checkJobName(); err != nil {
		return err
	}
	if o.Systemd {
		return runShowSystemd(ctx, o)
	}
	current, err := o.crontab().Read(ctx)
	if err != nil {
		return fmt.Errorf("read the crontab: %w", err)
	}
	in, err := dcron.Find(current, o.JobName)
	if err != nil {
		return failure.Usage(err)
	}
	if in == nil {
		return &NoJobError{Name: o.JobName}
	}
	out := o.IO.Out
	fmt.Fprintf(out, "cron job %q (crontab line %d):\n", o.JobName, in.FirstLine)
	for _, l := range strings.SplitAfter(in.Text, "\n") {
		if l != "" {
			fmt.Fprintf(out, "  %s", strings.TrimRight(l, "\r\n")+"\n")
		}
	}
	if !strings.Contains(in.Text, dcron.ManagedComment) {
		fmt.Fprintln(out, "note: this block was not written by dcehost (an old installer's?); 'dcehost cron install' replaces it in place.")
	}
	if in.ScheduleErr != nil {
		fmt.Fprintf(out, "schedule: cannot be read: %v\n", in.ScheduleErr)
		return nil
	}
	fmt.Fprintf(out, "schedule: %s (%s)\n", in.Schedule.Expr, in.Schedule.Describe())
	printNext(out, in.Schedule, o.Now(), 3)
	return nil
}
