// Package archive implements `dcehost archive verify` and `dcehost archive
// merge`: checking archives and merging an export into an archive by hand,
// with the same code the scrape engine uses.
package archive

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/spf13/cobra"

	dcearchive "github.com/dcehost/dcehost/internal/archive"
	"github.com/dcehost/dcehost/internal/cli/factory"
	"github.com/dcehost/dcehost/internal/engine"
	"github.com/dcehost/dcehost/internal/failure"
	"github.com/dcehost/dcehost/internal/iostreams"
	"github.com/dcehost/dcehost/internal/settings"
	"github.com/dcehost/dcehost/internal/targets"
)

// NewCmdArchive returns the `dcehost archive` command group.
func NewCmdArchive(f *factory.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "archive <command>",
		Short: "Verify archives, or merge an export into an archive by hand",
		Long: `Work on archive files directly: check that they are complete and consistent,
or merge a DCE export into an archive with the same append-only, crash-safe
merge the scrape uses.`,
	}
	cmd.AddCommand(NewCmdVerify(f, nil), NewCmdMerge(f, nil))
	return cmd
}

// VerifyOptions are the parsed command line of `dcehost archive verify`.
type VerifyOptions struct {
	IO *iostreams.IOStreams
	// Settings loads the settings with flag overrides (factory.Settings).
	Settings func(flags map[string]string) (*settings.Settings, error)

	Config string   // --config
	JSON   bool     // --json
	Paths  []string // arguments
}

// NewCmdVerify returns `dcehost archive verify`. runF, when not nil,
// receives the parsed options instead of running the command (tests).
func NewCmdVerify(f *factory.Factory, runF func(*VerifyOptions) error) *cobra.Command {
	opts := &VerifyOptions{IO: f.IO, Settings: f.Settings}
	cmd := &cobra.Command{
		Use:   "verify [PATH...]",
		Short: "Check that archives are complete and consistent",
		Long: `Check archives: each must be a complete, valid JSON document whose channel.id
matches its "[<channel id>].json" file name, with unique message ids in
increasing order and a right messageCount.

Without PATH, every "*[<id>].json" archive under the output_dir of every
configured target (--config, else DCE_CONFIG_FILE, else
config/scrape-targets.json beside the env file) is checked. A PATH may be a
directory, searched the same way. Nothing is written.

Exit status 7 when any archive has a problem.`,
		Example: `  # every archive of the configured targets
  dcehost archive verify --env-file ~/discord/scrape.env

  # one file, as JSON
  dcehost archive verify --json "/data/discord/myserver/My Server - general [123456789012345678].json"`,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Paths = args
			if runF != nil {
				return runF(opts)
			}
			return runVerify(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Config, "config", "", "targets config file, for the default archives (default $DCE_CONFIG_FILE, else config/scrape-targets.json beside the env file)")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print a JSON array of reports instead of text")
	return cmd
}

// verifyResult is one archive's outcome in --json output.
type verifyResult struct {
	dcearchive.Report
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

func runVerify(opts *VerifyOptions) error {
	paths, err := verifyPaths(opts)
	if err != nil {
		return err
	}
	var results []verifyResult
	var problems []string
	for _, p := range paths {
		rep, err := dcearchive.Verify(p)
		r := verifyResult{Report: rep, OK: err == nil && rep.OK()}
		if err != nil {
			r.Error = err.Error()
			problems = append(problems, err.Error())
		}
		for _, pr := range rep.Problems {
			problems = append(problems, p+": "+pr)
		}
		results = append(results, r)
	}
	if opts.JSON {
		if results == nil {
			results = []verifyResult{}
		}
		enc := json.NewEncoder(opts.IO.Out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(results); err != nil {
			return fmt.Errorf("write reports: %w", err)
		}
	} else {
		for _, r := range results {
			switch {
			case r.Error != "":
				fmt.Fprintf(opts.IO.Out, "FAIL  %s\n      %s\n", r.Path, r.Error)
			case !r.OK:
				fmt.Fprintf(opts.IO.Out, "FAIL  %s (%d messages)\n", r.Path, r.Messages)
				for _, pr := range r.Problems {
					fmt.Fprintf(opts.IO.Out, "      %s\n", pr)
				}
			default:
				fmt.Fprintf(opts.IO.Out, "ok    %s (%d messages, last id %s)\n", r.Path, r.Messages, r.MaxID)
			}
		}
		bad := 0
		for _, r := range results {
			if !r.OK {
				bad++
			}
		}
		fmt.Fprintf(opts.IO.Out, "%d archive(s) checked, %d with problems\n", len(results), bad)
	}
	if len(problems) > 0 {
		return &engine.ChannelsFailedError{Channels: problems}
	}
	return nil
}

// verifyPaths expands the arguments (files, directories) or, without any,
// the output_dirs of the configured targets.
func verifyPaths(opts *VerifyOptions) ([]string, error) {
	var roots []string
	explicit := len(opts.Paths) > 0
	if explicit {
		roots = opts.Paths
	} else {
		s, err := opts.Settings(map[string]string{settings.ConfigFileVar: opts.Config})
		if err != nil {
			return nil, err
		}
		cfg, err := targets.Load(s.ConfigFile)
		if err != nil {
			return nil, err
		}
		for _, t := range cfg.Targets {
			roots = append(roots, t.OutputDir)
		}
	}
	var out []string
	seen := map[string]bool{}
	for _, root := range roots {
		st, err := os.Stat(root)
		switch {
		case err != nil && !explicit && errors.Is(err, fs.ErrNotExist):
			continue // a target that has no archive yet
		case err != nil:
			return nil, failure.Usagef("archive verify: %w", err)
		case !st.IsDir():
			if !seen[root] {
				seen[root] = true
				out = append(out, root)
			}
			continue
		}
		found, err := FindArchives(root)
		if err != nil {
			return nil, err
		}
		for _, p := range found {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out, nil
}

// FindArchives lists the archives ("*[<id>].json" regular files) below
// dir, skipping .dce-temp and .dce-meta, sorted.
func FindArchives(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("search archives: %w", err)
		}
		if d.IsDir() {
			if p != dir && (d.Name() == ".dce-temp" || d.Name() == ".dce-meta") {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() && dcearchive.ChannelIDFromName(p) != "" {
			out = append(out, p)
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

// MergeOptions are the parsed command line of `dcehost archive merge`.
type MergeOptions struct {
	IO *iostreams.IOStreams

	Archive   string
	Export    string
	ChannelID string // --channel
	MetaDir   string // --meta-dir
	DryRun    bool   // --dry-run
	JSON      bool   // --json
}

// NewCmdMerge returns `dcehost archive merge`. runF, when not nil,
// receives the parsed options instead of running the command (tests).
func NewCmdMerge(f *factory.Factory, runF func(*MergeOptions) error) *cobra.Command {
	opts := &MergeOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "merge ARCHIVE EXPORT",
		Short: "Merge a DCE export into an archive, append-only",
		Long: `Merge the DCE JSON export EXPORT into the archive ARCHIVE with the merge the
scrape uses: archived messages are kept byte for byte, messages the archive
lacks are added in id order (before the first archived message with a
larger id, so an ordered archive stays ordered), a message both have is
replaced by the export's copy; the result is written to a temp file,
fsynced, re-validated and renamed over the archive. A result missing any archived message id is
refused. When ARCHIVE does not exist, it is created from a copy of EXPORT.
EXPORT itself is never changed.

The export must be a complete document of the archive's channel (--channel,
else the "[<id>].json" in ARCHIVE's name, else the archive's own channel).

With --meta-dir (a target's .dce-meta directory; by default the .dce-meta
beside ARCHIVE when there is one) the archive index there is used and kept
up to date, so an archive unchanged since dcehost last wrote it is not
parsed again.

Exit status 7 when the export or the archive is unusable; the archive is
then left as it was.`,
		Example: `  # see what a merge would do
  dcehost archive merge --dry-run "general [123456789012345678].json" export.json

  # merge, and print the result as JSON
  dcehost archive merge --json "general [123456789012345678].json" export.json`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Archive, opts.Export = args[0], args[1]
			if opts.ChannelID != "" {
				if _, err := dcearchive.ParseID(opts.ChannelID); err != nil {
					return failure.Usagef("--channel: %w", err)
				}
			}
			if runF != nil {
				return runF(opts)
			}
			return runMerge(opts)
		},
	}
	cmd.Flags().StringVar(&opts.ChannelID, "channel", "", "the channel id the export must have (default: from the archive)")
	cmd.Flags().StringVar(&opts.MetaDir, "meta-dir", "", "the .dce-meta directory holding the archive index (default: .dce-meta beside ARCHIVE, if it exists)")
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "compute the result without writing")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the result as JSON")
	return cmd
}

// mergeOutput is the --json output of archive merge.
type mergeOutput struct {
	Archive      string `json:"archive"`
	Export       string `json:"export"`
	DryRun       bool   `json:"dry_run"`
	Action       string `json:"action"`
	BeforeCount  int    `json:"before_count"`
	FetchedCount int    `json:"fetched_count"`
	AfterCount   int    `json:"after_count"`
	Appended     int    `json:"appended"`
	Replaced     int    `json:"replaced"`
	MaxID        string `json:"max_id"`
}

func runMerge(opts *MergeOptions) error {
	if st, err := os.Stat(opts.Export); err != nil {
		return failure.Usagef("archive merge: export: %w", err)
	} else if st.IsDir() {
		return failure.Usagef("archive merge: export %s is a directory", opts.Export)
	}
	if st, err := os.Stat(opts.Archive); err == nil && st.IsDir() {
		return failure.Usagef("archive merge: archive %s is a directory", opts.Archive)
	}
	meta := opts.MetaDir
	if meta == "" {
		beside := filepath.Join(filepath.Dir(opts.Archive), ".dce-meta")
		if st, err := os.Stat(beside); err == nil && st.IsDir() {
			meta = beside
		}
	}
	res, err := dcearchive.Merge(opts.Archive, opts.Export, dcearchive.MergeOptions{
		ChannelID: opts.ChannelID, MetaDir: meta, DryRun: opts.DryRun, KeepExport: true,
	})
	var (
		badArchive *dcearchive.InvalidArchiveError
		badExport  *dcearchive.InvalidExportError
		shrink     *dcearchive.ShrinkError
	)
	if errors.As(err, &badArchive) || errors.As(err, &badExport) || errors.As(err, &shrink) {
		return &engine.ChannelsFailedError{Channels: []string{err.Error() + "; the archive was left as it was"}}
	}
	if err != nil {
		return fmt.Errorf("archive merge: %w", err)
	}
	if opts.JSON {
		out := mergeOutput{
			Archive: opts.Archive, Export: opts.Export, DryRun: opts.DryRun, Action: string(res.Action),
			BeforeCount: res.BeforeCount, FetchedCount: res.FetchedCount, AfterCount: res.AfterCount,
			Appended: res.Appended, Replaced: res.Replaced, MaxID: fmt.Sprint(res.MaxID),
		}
		enc := json.NewEncoder(opts.IO.Out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return fmt.Errorf("write result: %w", err)
		}
		return nil
	}
	prefix := ""
	if opts.DryRun {
		prefix = "dry run: would be "
	}
	fmt.Fprintf(opts.IO.Out, "%s%s: %d -> %d messages (%d in the export, %d appended, %d replaced), last id %d\n",
		prefix, res.Action, res.BeforeCount, res.AfterCount, res.FetchedCount, res.Appended, res.Replaced, res.MaxID)
	return nil
}
