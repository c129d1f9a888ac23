// Package root builds the dcehost command tree.
package root

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/dcehost/dcehost/internal/cli/factory"
	"github.com/dcehost/dcehost/internal/failure"
	"github.com/dcehost/dcehost/internal/logging"
)

// NewCmdRoot returns the root command with every subcommand attached.
func NewCmdRoot(f *factory.Factory) *cobra.Command {
	var logFormat string
	cmd := &cobra.Command{
		Use:   "dcehost <command>",
		Short: "Keep append-only Discord archives up to date with DiscordChatExporter",
		Long: `dcehost runs recurring, append-only Discord archive scrapes with
DiscordChatExporter (DCE), in its Docker image or with the DCE CLI on this host.
An archive only grows: a crash, full disk, bad token or bad input leaves it as it was.`,
		Example: `  # check the token and the targets without downloading history
  dcehost preflight --env-file ~/discord/scrape.env

  # run every enabled target (what cron runs)
  dcehost scrape --env-file ~/discord/scrape.env --log-file ~/discord/logs/scrape.log

  # schedule it monthly at 04:00
  dcehost cron install --env-file ~/discord/scrape.env`,
		Version:       f.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			format, err := logging.ParseFormat(logFormat)
			if err != nil {
				return failure.Usage(err)
			}
			f.LogFormat = format
			return nil
		},
	}
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return failure.Usagef("%s: %w (see '%s --help')", c.CommandPath(), err, c.CommandPath())
	})
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.EnvFile, "env-file", "", "env file with KEY=VALUE settings (default $DCE_ENV_FILE, else ./scrape.env)")
	pf.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	pf.BoolVarP(&f.Verbose, "verbose", "v", false, "log debug details")
	cmd.SetVersionTemplate("dcehost {{.Version}}\n")

	for _, add := range commands {
		cmd.AddCommand(add(f))
	}
	return cmd
}

// commands lists the constructors of the top-level commands; each command
// package registers itself in commands.go.
var commands []func(*factory.Factory) *cobra.Command

// Execute builds the command tree, runs it with args and returns the
// command's error. An error cobra returns before a command starts its work
// (unknown command or flag, wrong number of arguments, a missing required
// flag) is a usage error (exit 2); errors from a command's own work keep
// their class.
func Execute(f *factory.Factory, args []string) error {
	cmd := NewCmdRoot(f)
	started := false
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if run := c.RunE; run != nil {
			c.RunE = func(cmd *cobra.Command, a []string) error {
				started = true
				return run(cmd, a)
			}
		}
		if c.RunE == nil && c.Run == nil && c.HasSubCommands() {
			// A command group: help without arguments, a usage error with an
			// unknown subcommand.
			c.Args = cobra.ArbitraryArgs
			c.RunE = func(cmd *cobra.Command, a []string) error {
				if len(a) > 0 {
					return failure.Usagef("unknown command %q for %q (see '%s --help')", a[0], cmd.CommandPath(), cmd.CommandPath())
				}
				return cmd.Help()
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(cmd)
	cmd.SetArgs(args)
	cmd.SetIn(f.IO.In)
	cmd.SetOut(f.IO.Out)
	cmd.SetErr(f.IO.ErrOut)
	err := cmd.Execute()
	if err != nil && !started {
		return failure.Usage(fmt.Errorf("%w (see 'dcehost --help')", err))
	}
	return err
}
