// Package summary implements `dcehost summary [FILE|-]`: print a run
// summary as a table or JSON.
package summary

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dcehost/dcehost/internal/cli/factory"
	"github.com/dcehost/dcehost/internal/failure"
	"github.com/dcehost/dcehost/internal/iostreams"
	"github.com/dcehost/dcehost/internal/runlog"
	"github.com/dcehost/dcehost/internal/settings"
	runsummary "github.com/dcehost/dcehost/internal/summary"
)

// DefaultLogFile is where `dcehost init` puts the run log, relative to the
// env file's directory; its summaries/ directory is searched for the last
// run's summary.
const DefaultLogFile = "logs/scrape.log"

// Options are the parsed command line of `dcehost summary`.
type Options struct {
	IO       *iostreams.IOStreams
	Settings func(flags map[string]string) (*settings.Settings, error)

	File    string // argument: a path, "-" for standard input, "" for the last run
	LogFile string // --log-file
	JSON    bool   // --json
	Failed  bool   // --failed
}

// NewCmdSummary returns `dcehost summary`.
func NewCmdSummary(f *factory.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Settings: f.Settings}
	cmd := &cobra.Command{
		Use:   "summary [FILE|-]",
		Short: "Print a run summary as a table",
		Long: `Print a run summary (schema version 1) as a table, or as JSON with --json.

FILE is a summary file, a log holding a "DCE_JSON_SUMMARY: {...}" line (the
last one is shown), or - for standard input. Without FILE, the last run's
summary is shown: the newer of DCE_RUN_SUMMARY_FILE and the newest summary
stored beside the run log (--log-file, default logs/scrape.log beside the
env file).`,
		Example: `  # the last run
  dcehost summary --env-file ~/discord/scrape.env

  # only the channels that failed, for a script
  dcehost summary ~/discord/logs/last-run-summary.json --failed --json

  # from a cron mail or an old log
  grep DCE_JSON_SUMMARY cron-mail.txt | dcehost summary -`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.File = args[0]
			}
			if runF != nil {
				return runF(opts)
			}
			return runSummary(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.LogFile, "log-file", "", "run log whose stored summaries are searched (default logs/scrape.log beside the env file)")
	fl.BoolVar(&opts.JSON, "json", false, "print JSON (the summary, or with --failed the failed list)")
	fl.BoolVar(&opts.Failed, "failed", false, "show only the channels and targets that failed")
	return cmd
}

func runSummary(opts *Options) error {
	var (
		sum  *runsummary.Summary
		from string
		err  error
	)
	switch opts.File {
	case "-":
		from = "standard input"
		sum, err = parse(from, opts.IO.In)
	case "":
		s, serr := opts.Settings(nil)
		if serr != nil {
			return serr
		}
		from, err = Latest(s, opts.LogFile)
		if err != nil {
			return err
		}
		sum, err = readFile(from)
	default:
		from = opts.File
		sum, err = readFile(from)
	}
	if err != nil {
		return err
	}
	return Print(opts.IO.Out, sum, from, opts.JSON, opts.Failed)
}

// Print writes sum as a table (with a heading naming from) or as JSON.
func Print(w io.Writer, sum *runsummary.Summary, from string, asJSON, failedOnly bool) error {
	if asJSON {
		var v any = sum
		if failedOnly {
			failed := sum.Failed
			if failed == nil {
				failed = []runsummary.Failure{}
			}
			v = failed
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			return fmt.Errorf("write summary: %w", err)
		}
		return nil
	}
	fmt.Fprintf(w, "run finished %s (%s)\n", sum.FinishedAt.UTC().Format("2006-01-02 15:04:05 UTC"), from)
	if failedOnly {
		if len(sum.Failed) == 0 {
			_, err := fmt.Fprintln(w, "no channel failed")
			return err
		}
		only := *sum
		only.Channels = nil
		return only.Table(w)
	}
	return sum.Table(w)
}

// Latest returns the path of the last run's summary: the more recently
// modified of DCE_RUN_SUMMARY_FILE and the newest summary stored beside the
// run log (logFile, default logs/scrape.log beside the env file).
func Latest(s *settings.Settings, logFile string) (string, error) {
	if logFile == "" {
		logFile = filepath.Join(s.EnvFileDir(), filepath.FromSlash(DefaultLogFile))
	}
	var candidates, looked []string
	if s.SummaryFile != "" {
		looked = append(looked, s.SummaryFile+" ("+s.Describe(settings.SummaryFileVar)+")")
		candidates = append(candidates, s.SummaryFile)
	}
	stored, err := runlog.LatestSummary(logFile)
	if err != nil {
		return "", err
	}
	looked = append(looked, filepath.Join(filepath.Dir(logFile), runlog.SummariesDir)+"/")
	if stored != "" {
		candidates = append(candidates, stored)
	}
	best := ""
	var bestInfo fs.FileInfo
	for _, c := range candidates {
		st, err := os.Stat(c)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("summary %s: %w", c, err)
		}
		if bestInfo == nil || st.ModTime().After(bestInfo.ModTime()) {
			best, bestInfo = c, st
		}
	}
	if best == "" {
		return "", &NotFoundError{Looked: looked}
	}
	return best, nil
}

// NotFoundError: no summary of a previous run exists.
type NotFoundError struct{ Looked []string }

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("no run summary found (looked at %s); run a scrape first, or pass FILE, --log-file or set DCE_RUN_SUMMARY_FILE",
		strings.Join(e.Looked, ", "))
}

func readFile(path string) (*runsummary.Summary, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, failure.Usagef("summary %w", err)
	}
	defer f.Close()
	return parse(path, f)
}

// parse reads a summary document, or the last "DCE_JSON_SUMMARY: {...}"
// line of a log.
func parse(name string, r io.Reader) (*runsummary.Summary, error) {
	data, err := io.ReadAll(io.LimitReader(r, 256<<20))
	if err != nil {
		return nil, fmt.Errorf("summary %s: %w", name, err)
	}
	doc := bytes.TrimSpace(data)
	if !bytes.HasPrefix(doc, []byte("{")) {
		doc = nil
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(make([]byte, 64*1024), 64<<20)
		for sc.Scan() {
			if _, after, ok := strings.Cut(sc.Text(), runsummary.LinePrefix); ok {
				doc = []byte(after)
			}
		}
		if err := sc.Err(); err != nil {
			return nil, failure.Usagef("summary %s: %w", name, err)
		}
		if doc == nil {
			return nil, failure.Usagef("summary %s: neither a summary file (JSON) nor a log with a %q line", name, strings.TrimSpace(runsummary.LinePrefix))
		}
	}
	var sum runsummary.Summary
	if err := json.Unmarshal(doc, &sum); err != nil {
		return nil, failure.Usagef("summary %s: %w", name, err)
	}
	return &sum, nil
}
