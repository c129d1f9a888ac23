package root

import (
	"github.com/spf13/cobra"

	cliarchive "github.com/dcehost/dcehost/internal/cli/archive"
	clicron "github.com/dcehost/dcehost/internal/cli/cron"
	"github.com/dcehost/dcehost/internal/cli/doctor"
	"github.com/dcehost/dcehost/internal/cli/factory"
	"github.com/dcehost/dcehost/internal/cli/gh"
	"github.com/dcehost/dcehost/internal/cli/initcmd"
	"github.com/dcehost/dcehost/internal/cli/scrape"
	clistatus "github.com/dcehost/dcehost/internal/cli/status"
	clisummary "github.com/dcehost/dcehost/internal/cli/summary"
	clitargets "github.com/dcehost/dcehost/internal/cli/targets"
	"github.com/dcehost/dcehost/internal/cli/version"
)

// Top-level commands, in the order `dcehost --help` lists them.
func init() {
	commands = append(commands,
		version.NewCmdVersion,
		func(f *factory.Factory) *cobra.Command { return scrape.NewCmdScrape(f, nil) },
		func(f *factory.Factory) *cobra.Command { return scrape.NewCmdPreflight(f, nil) },
		func(f *factory.Factory) *cobra.Command { return scrape.NewCmdSalvage(f, nil) },
		func(f *factory.Factory) *cobra.Command { return clitargets.NewCmdTargets(f, nil) },
		gh.NewCmdGh,
		clicron.NewCmdCron,
		cliarchive.NewCmdArchive,
		func(f *factory.Factory) *cobra.Command { return initcmd.NewCmdInit(f, nil) },
		func(f *factory.Factory) *cobra.Command { return clisummary.NewCmdSummary(f, nil) },
		func(f *factory.Factory) *cobra.Command { return clistatus.NewCmdStatus(f, nil) },
		func(f *factory.Factory) *cobra.Command { return doctor.NewCmdDoctor(f, nil) },
	)
}
