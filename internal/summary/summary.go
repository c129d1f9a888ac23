// Package summary is the run summary, schema version 1 (compat.md): the
// JSON file at DCE_RUN_SUMMARY_FILE, the one-line "DCE_JSON_SUMMARY: {...}"
// on standard error and a readable table.
//
// Failed channels are kept out of "channels" (whose action is one of the
// five values old readers know) and listed in an added "failed" array,
// counted in an added "totals.failed". Old readers ignore both.
package summary

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/dcehost/dcehost/internal/atomicfile"
	"github.com/dcehost/dcehost/internal/iostreams"
)

// Version is the schema version written and accepted.
const Version = 1

// LinePrefix starts the summary line printed on standard error.
const LinePrefix = "DCE_JSON_SUMMARY: "

// NA is file_path when a channel has no archive.
const NA = "n/a"

// Action is what happened to a channel.
type Action string

const (
	Created    Action = "CREATED"
	Merged     Action = "MERGED"
	Unchanged  Action = "UNCHANGED"
	Skipped    Action = "SKIPPED"
	SkippedOOM Action = "SKIPPED_OOM"
)

// Valid reports whether a is one of the five schema-1 actions.
func (a Action) Valid() bool {
	switch a {
	case Created, Merged, Unchanged, Skipped, SkippedOOM:
		return true
	}
	return false
}

// Totals are the run's counters.
type Totals struct {
	Created          int `json:"created"`
	Merged           int `json:"merged"`
	Unchanged        int `json:"unchanged"`
	Skipped          int `json:"skipped"` // SKIPPED and SKIPPED_OOM
	SkippedOOM       int `json:"skipped_oom"`
	MessagesAppended int `json:"messages_appended"`
	Failed           int `json:"failed"` // added: len(Summary.Failed)
}

// Channel is one channel's outcome.
type Channel struct {
	Target       string `json:"target"`
	ChannelID    string `json:"channel_id"`
	GuildLabel   string `json:"guild_label"`
	FilePath     string `json:"file_path"`
	Action       Action `json:"action"`
	BeforeCount  int    `json:"before_count"`
	FetchedCount int    `json:"fetched_count"`
	AfterCount   int    `json:"after_count"`
	Delta        int    `json:"delta"`
	// Reason (added; omitted when empty) says why a channel was skipped
	// (forbidden, not_found, forum, "killed by signal N (exit C)") or that
	// its counts include a salvaged partial export.
	Reason string `json:"reason,omitempty"`
}

// Failure is a channel (or a whole target, ChannelID "") that failed.
type Failure struct {
	Target     string `json:"target"`
	ChannelID  string `json:"channel_id"`
	GuildLabel string `json:"guild_label"`
	FilePath   string `json:"file_path"`
	Error      string `json:"error"`
}

// Summary is one run's summary.
type Summary struct {
	Version    int       `json:"version"`
	FinishedAt time.Time `json:"-"`
	Totals     Totals    `json:"totals"`
	Channels   []Channel `json:"channels"`
	Failed     []Failure `json:"failed"`
}

// wire is the JSON form: finished_at as RFC 3339 UTC seconds, keys in
// compat.md's order.
type wire struct {
	Version    int       `json:"version"`
	FinishedAt string    `json:"finished_at"`
	Totals     Totals    `json:"totals"`
	Channels   []Channel `json:"channels"`
	Failed     []Failure `json:"failed"`
}

// New returns an empty summary.
func New() *Summary { return &Summary{Version: Version} }

// Add records a channel outcome and updates the totals.
func (s *Summary) Add(c Channel) {
	if c.FilePath == "" {
		c.FilePath = NA
	}
	switch c.Action {
	case Created:
		s.Totals.Created++
	case Merged:
		s.Totals.Merged++
	case Unchanged:
		s.Totals.Unchanged++
	case Skipped:
		s.Totals.Skipped++
	case SkippedOOM:
		s.Totals.Skipped++
		s.Totals.SkippedOOM++
	}
	if c.Delta > 0 {
		s.Totals.MessagesAppended += c.Delta
	}
	s.Channels = append(s.Channels, c)
}

// Fail records a failed channel or target.
func (s *Summary) Fail(f Failure) {
	if f.FilePath == "" {
		f.FilePath = NA
	}
	s.Failed = append(s.Failed, f)
	s.Totals.Failed = len(s.Failed)
}

// MarshalJSON writes schema version 1.
func (s *Summary) MarshalJSON() ([]byte, error) {
	w := wire{
		Version:    s.Version,
		FinishedAt: s.FinishedAt.UTC().Format(time.RFC3339),
		Totals:     s.Totals,
		Channels:   s.Channels,
		Failed:     s.Failed,
	}
	if w.Channels == nil {
		w.Channels = []Channel{}
	}
	if w.Failed == nil {
		w.Failed = []Failure{}
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads schema version 1 (files without the added fields
// included) and rejects other versions.
func (s *Summary) UnmarshalJSON(data []byte) error {
	var w wire
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	if w.Version != Version {
		return fmt.Errorf("summary version %d: want %d", w.Version, Version)
	}
	t, err := time.Parse(time.RFC3339, w.FinishedAt)
	if err != nil {
		return fmt.Errorf("finished_at %q: %w", w.FinishedAt, err)
	}
	for _, c := range w.Channels {
		if !c.Action.Valid() {
			return fmt.Errorf("channel %s: action %q is not one of CREATED, MERGED, UNCHANGED, SKIPPED, SKIPPED_OOM", c.ChannelID, c.Action)
		}
	}
	*s = Summary{Version: w.Version, FinishedAt: t, Totals: w.Totals, Channels: w.Channels, Failed: w.Failed}
	s.Totals.Failed = len(s.Failed)
	return nil
}

// Line is the one-line form printed on standard error:
// "DCE_JSON_SUMMARY: {...}".
func (s *Summary) Line() string {
	data, err := json.Marshal(s)
	if err != nil {
		// Only strings, ints and a formatted time: cannot fail.
		panic(fmt.Sprintf("summary: marshal: %v", err))
	}
	return LinePrefix + string(data)
}

// Write stores the summary at path atomically (temp file in the same
// directory, fsync, rename, directory fsync), indented. A new file gets
// mode 0644 (less the umask); a replaced file keeps its mode.
func (s *Summary) Write(path string) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("summary %s: %w", path, err)
	}
	data = append(data, '\n')
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("summary %s: %w", path, err)
	}
	if err := atomicfile.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("summary: %w", err)
	}
	return nil
}

// Read loads a summary file written by Write (or by the old tooling).
func Read(path string) (*Summary, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read summary: %w", err)
	}
	var s Summary
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("summary %s: %w", path, err)
	}
	return &s, nil
}

// Table writes a readable table: one row per channel, then the failures
// and the totals.
func (s *Summary) Table(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ACTION\tTARGET\tCHANNEL\tGUILD\tBEFORE\tFETCHED\tAFTER\tDELTA\tFILE")
	for _, c := range s.Channels {
		action := string(c.Action)
		if c.Reason != "" {
			action += " (" + c.Reason + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%+d\t%s\n", action, c.Target, c.ChannelID,
			iostreams.OneLine(c.GuildLabel), c.BeforeCount, c.FetchedCount, c.AfterCount, c.Delta, iostreams.OneLine(c.FilePath))
	}
	for _, f := range s.Failed {
		id := f.ChannelID
		if id == "" {
			id = "-"
		}
		fmt.Fprintf(tw, "FAILED\t%s\t%s\t%s\t-\t-\t-\t-\t%s\n", f.Target, id, iostreams.OneLine(f.GuildLabel), iostreams.OneLine(f.FilePath))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("summary table: %w", err)
	}
	for _, f := range s.Failed {
		who := f.Target
		if f.ChannelID != "" {
			who += "/" + f.ChannelID
		}
		if _, err := fmt.Fprintf(w, "failed: %s: %s\n", who, iostreams.OneLine(f.Error)); err != nil {
			return fmt.Errorf("summary table: %w", err)
		}
	}
	t := s.Totals
	_, err := fmt.Fprintf(w, "totals: created %d, merged %d, unchanged %d, skipped %d (oom %d), failed %d, messages appended %d\n",
		t.Created, t.Merged, t.Unchanged, t.Skipped, t.SkippedOOM, t.Failed, t.MessagesAppended)
	if err != nil {
		return fmt.Errorf("summary table: %w", err)
	}
	return nil
}
