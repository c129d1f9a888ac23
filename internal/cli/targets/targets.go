// Package targets implements `dcehost targets`: list the configured targets.
package targets

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/dcehost/dcehost/internal/cli/factory"
	"github.com/dcehost/dcehost/internal/iostreams"
	"github.com/dcehost/dcehost/internal/settings"
	"github.com/dcehost/dcehost/internal/targets"
)

// Options are the parsed command line of `dcehost targets`.
type Options struct {
	IO *iostreams.IOStreams
	// Settings loads the settings with flag overrides (factory.Settings).
	Settings func(flags map[string]string) (*settings.Settings, error)

	Config string // --config
	JSON   bool   // --json
}

// NewCmdTargets returns `dcehost targets`. runF, when not nil, receives
// the parsed options instead of running the command (tests).
func NewCmdTargets(f *factory.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Settings: f.Settings}
	cmd := &cobra.Command{
		Use:   "targets",
		Short: "List the configured targets",
		Long: `List the targets of the targets config (--config, else DCE_CONFIG_FILE, else
config/scrape-targets.json beside the env file) after validating it.

Disabled targets are listed too; scrape skips them unless they are named
with --target.`,
		Example: `  # the targets of the default config
  dcehost targets --env-file ~/discord/scrape.env

  # another config, as JSON for scripts
  dcehost targets --config ~/discord/config/test-targets.json --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return runTargets(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Config, "config", "", "targets config file (default $DCE_CONFIG_FILE, else config/scrape-targets.json beside the env file)")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print a JSON array instead of a table")
	return cmd
}

// jsonTarget is one target in --json output. Field names follow the
// config file's.
type jsonTarget struct {
	Name                 string   `json:"name"`
	Kind                 string   `json:"kind"`
	OutputDir            string   `json:"output_dir"`
	Enabled              bool     `json:"enabled"`
	GuildIDs             []string `json:"guild_ids"`
	ChannelIDs           []string `json:"channel_ids"`
	GuildNamePatterns    []string `json:"guild_name_patterns"`
	IncludeThreads       string   `json:"include_threads"`
	IncludeVoiceChannels bool     `json:"include_voice_channels"`
	ContainerMemory      string   `json:"container_memory,omitempty"`
}

func runTargets(opts *Options) error {
	s, err := opts.Settings(map[string]string{settings.ConfigFileVar: opts.Config})
	if err != nil {
		return err
	}
	cfg, err := targets.Load(s.ConfigFile)
	if err != nil {
		return err
	}
	if opts.JSON {
		list := make([]jsonTarget, 0, len(cfg.Targets))
		for _, t := range cfg.Targets {
			list = append(list, jsonTarget{
				Name:                 t.Name,
				Kind:                 string(t.Kind),
				OutputDir:            t.OutputDir,
				Enabled:              t.Enabled,
				GuildIDs:             nonNil(t.GuildIDs),
				ChannelIDs:           nonNil(t.ChannelIDs),
				GuildNamePatterns:    nonNil(t.GuildNamePatterns),
				IncludeThreads:       string(t.IncludeThreads),
				IncludeVoiceChannels: t.IncludeVoiceChannels,
				ContainerMemory:      t.ContainerMemory,
			})
		}
		enc := json.NewEncoder(opts.IO.Out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(list); err != nil {
			return fmt.Errorf("write targets: %w", err)
		}
		return nil
	}
	tw := tabwriter.NewWriter(opts.IO.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tOUTPUT_DIR\tENABLED")
	for _, t := range cfg.Targets {
		enabled := "yes"
		if !t.Enabled {
			enabled = "no"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Name, t.Kind, t.OutputDir, enabled)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write targets: %w", err)
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
