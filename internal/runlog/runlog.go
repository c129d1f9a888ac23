// Package runlog keeps the run log behind `--log-file PATH`: every run
// appends a header (time, version, command line with secrets masked), its
// log lines and a footer (how it ended); the file is rotated by size
// before a run opens it (PATH.1 ... PATH.N kept); each run's summary is
// stored beside the log under summaries/ and pointed to from it; and the
// last run's outcome is recorded in last-run.json beside the log for
// `dcehost status` and `dcehost summary`.
package runlog

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"al.essio.dev/pkg/shellescape"

	"github.com/dcehost/dcehost/internal/atomicfile"
)

// Defaults of Options.
const (
	DefaultMaxBytes      = 10 << 20 // rotate when the log is larger than 10 MiB
	DefaultKeep          = 5        // PATH.1 ... PATH.5
	DefaultKeepSummaries = 100
)

// SummariesDir is the directory beside the log that keeps run summaries.
const SummariesDir = "summaries"

// RecordFile is the file beside the log that records the last run.
const RecordFile = "last-run.json"

// Redactor masks secrets (token.Redactor satisfies it).
type Redactor interface {
	Redact(string) string
}

// Header describes the run, written at the top of its part of the log.
type Header struct {
	Time    time.Time
	Version string
	// Args is the command line (os.Args); shown shell-quoted, redacted.
	Args []string
	// Redactor masks secrets in the header and in every line written
	// through the File (nil: nothing is masked).
	Redactor Redactor
}

// Options tune rotation; zero fields take the defaults.
type Options struct {
	MaxBytes      int64 // rotate before opening when the log is larger
	Keep          int   // rotated files kept
	KeepSummaries int   // stored summaries kept
}

func (o Options) withDefaults() Options {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.Keep <= 0 {
		o.Keep = DefaultKeep
	}
	if o.KeepSummaries <= 0 {
		o.KeepSummaries = DefaultKeepSummaries
	}
	return o
}

// File is an open run log. Writes are redacted and serialised; callers
// write whole lines (slog handlers and the line streamers do), so a secret
// is never split between two writes. A failing write is reported once by
// Err and otherwise ignored: the log never stops a run.
type File struct {
	path    string
	opts    Options
	header  Header
	mu      sync.Mutex
	f       *os.File
	err     error
	summary string // stored summary, for the record
}

// Open rotates path if it is larger than DefaultMaxBytes, opens it for
// appending (mode 0600, the directory created 0700 if missing) and writes
// the header. Errors name the path.
func Open(path string, h Header) (*File, error) {
	return OpenWith(path, h, Options{})
}

// OpenWith is Open with explicit rotation settings.
func OpenWith(path string, h Header, opts Options) (*File, error) {
	opts = opts.withDefaults()
	if path == "" {
		return nil, errors.New("run log: empty path")
	}
	// The log's own directory is created (logs/ beside scrape.env), but not
	// a whole missing tree: a mistyped path is an error, not a new folder.
	if err := os.Mkdir(filepath.Dir(path), 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("log file %s: %w", path, err)
	}
	if err := rotate(path, opts.MaxBytes, opts.Keep); err != nil {
		return nil, fmt.Errorf("log file %s: rotate: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("log file %s: %w", path, err)
	}
	lf := &File{path: path, opts: opts, header: h, f: f}
	if h.Time.IsZero() {
		lf.header.Time = time.Now()
	}
	version := h.Version
	if version == "" {
		version = "dev"
	}
	cmd := shellescape.QuoteCommand(h.Args)
	head := fmt.Sprintf("==== dcehost %s run started %s ====\ncommand: %s\n",
		version, lf.header.Time.Format(time.RFC3339), cmd)
	if _, err := lf.Write([]byte(head)); err != nil {
		f.Close()
		return nil, err
	}
	return lf, nil
}

// Path returns the log's path.
func (l *File) Path() string { return l.path }

// Write appends p, redacted.
func (l *File) Write(p []byte) (int, error) {
	s := string(p)
	if l.header.Redactor != nil {
		s = l.header.Redactor.Redact(s)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return 0, fmt.Errorf("log file %s: %w", l.path, fs.ErrClosed)
	}
	if _, err := l.f.WriteString(s); err != nil {
		if l.err == nil {
			l.err = fmt.Errorf("log file %s: %w", l.path, err)
		}
		return 0, l.err
	}
	return len(p), nil
}

// Err returns the first write error, if any.
func (l *File) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Close closes the log (without a footer; see Finish).
func (l *File) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	if err != nil {
		return fmt.Errorf("log file %s: %w", l.path, err)
	}
	return nil
}

// StoreSummary copies the run's summary file (written by the run to src)
// to summaries/<UTC time>.json beside the log, writes a pointer line into
// the log, prunes the oldest stored summaries beyond KeepSummaries, and
// returns the stored path. A missing src (the run ended before writing a
// summary) is not an error: it returns "" and writes nothing.
func (l *File) StoreSummary(src string, at time.Time) (string, error) {
	data, err := os.ReadFile(src)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("store summary %s: %w", src, err)
	}
	dir := filepath.Join(filepath.Dir(l.path), SummariesDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("store summary: %w", err)
	}
	stamp := at.UTC().Format("20060102T150405Z")
	var dst string
	for i := 0; ; i++ {
		name := stamp + ".json"
		if i > 0 {
			name = fmt.Sprintf("%s-%d.json", stamp, i)
		}
		dst = filepath.Join(dir, name)
		if _, err := os.Lstat(dst); errors.Is(err, fs.ErrNotExist) {
			break
		}
		if i > 1000 {
			return "", fmt.Errorf("store summary: no free name for %s in %s", stamp, dir)
		}
	}
	if err := atomicfile.WriteFile(dst, data, 0o600); err != nil {
		return "", fmt.Errorf("store summary: %w", err)
	}
	l.mu.Lock()
	l.summary = dst
	l.mu.Unlock()
	_, _ = fmt.Fprintf(l, "summary: %s\n", dst)
	if err := prune(dir, l.opts.KeepSummaries); err != nil {
		return dst, fmt.Errorf("store summary: prune %s: %w", dir, err)
	}
	return dst, nil
}

// Result is how a run ended.
type Result struct {
	Finished time.Time
	ExitCode int
	// Err is the run's error (nil on success); its text is redacted.
	Err error
}

// Record is the last run's outcome, kept in last-run.json beside the log.
type Record struct {
	Version  string    `json:"version"`
	Command  string    `json:"command"` // shell-quoted, redacted
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	ExitCode int       `json:"exit_code"`
	Error    string    `json:"error,omitempty"`
	Log      string    `json:"log"`
	Summary  string    `json:"summary,omitempty"` // stored summary, if any
}

// Finish writes the footer line, records the run in last-run.json beside
// the log (atomically) and closes the log. The record is written even when
// the log could not be written to.
func (l *File) Finish(r Result) error {
	if r.Finished.IsZero() {
		r.Finished = time.Now()
	}
	errText := ""
	if r.Err != nil {
		errText = r.Err.Error()
		if l.header.Redactor != nil {
			errText = l.header.Redactor.Redact(errText)
		}
		errText = strings.ReplaceAll(errText, "\n", " ")
	}
	outcome := "ok"
	if r.ExitCode != 0 {
		outcome = "failed"
		if errText != "" {
			outcome += ": " + errText
		}
	}
	elapsed := r.Finished.Sub(l.header.Time).Round(time.Second)
	_, _ = fmt.Fprintf(l, "==== dcehost run finished %s: exit %d after %s (%s) ====\n",
		r.Finished.Format(time.RFC3339), r.ExitCode, elapsed, outcome)
	l.mu.Lock()
	summaryPath := l.summary
	l.mu.Unlock()
	cmd := shellescape.QuoteCommand(l.header.Args)
	if l.header.Redactor != nil {
		cmd = l.header.Redactor.Redact(cmd)
	}
	rec := Record{
		Version: l.header.Version, Command: cmd, Started: l.header.Time.UTC(), Finished: r.Finished.UTC(),
		ExitCode: r.ExitCode, Error: errText, Log: l.path, Summary: summaryPath,
	}
	recErr := WriteRecord(filepath.Join(filepath.Dir(l.path), RecordFile), rec)
	closeErr := l.Close()
	return errors.Join(recErr, closeErr)
}

// WriteRecord stores rec at path atomically (mode 0600).
func WriteRecord(path string, rec Record) error {
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return fmt.Errorf("run record %s: %w", path, err)
	}
	data = append(data, '\n')
	if err := atomicfile.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("run record: %w", err)
	}
	return nil
}

// ReadRecord loads the last-run record kept beside the log at logPath.
// A missing record is an error matching fs.ErrNotExist.
func ReadRecord(logPath string) (*Record, error) {
	path := filepath.Join(filepath.Dir(logPath), RecordFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("run record %s: %w", path, err)
	}
	var rec Record
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("run record %s: %w", path, err)
	}
	return &rec, nil
}

// LatestSummary returns the newest summary stored beside the log at
// logPath ("" and no error when there is none).
func LatestSummary(logPath string) (string, error) {
	dir := filepath.Join(filepath.Dir(logPath), SummariesDir)
	names, err := summaryNames(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("summaries %s: %w", dir, err)
	}
	if len(names) == 0 {
		return "", nil
	}
	return filepath.Join(dir, names[len(names)-1]), nil
}

// summaryNames lists the stored summaries, oldest first. Names are UTC
// timestamps, with "-N" for runs in the same second, so they sort by time
// once the suffix is taken into account.
func summaryNames(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".json") && len(e.Name()) >= len("20060102T150405Z.json") {
			names = append(names, e.Name())
		}
	}
	sort.Slice(names, func(i, j int) bool { return summaryKey(names[i]) < summaryKey(names[j]) })
	return names, nil
}

// summaryKey orders "STAMP.json" < "STAMP-1.json" < "STAMP-2.json" <
// "STAMP-10.json".
func summaryKey(name string) string {
	base := strings.TrimSuffix(name, ".json")
	stamp, suffix, _ := strings.Cut(base, "-")
	n, _ := strconv.Atoi(suffix)
	return fmt.Sprintf("%s-%08d", stamp, n)
}

func prune(dir string, keep int) error {
	names, err := summaryNames(dir)
	if err != nil {
		return err
	}
	for len(names) > keep {
		if err := os.Remove(filepath.Join(dir, names[0])); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		names = names[1:]
	}
	return nil
}

// rotate shifts path to path.1 (path.1 to path.2, ...; the oldest beyond
// keep is removed) when path is larger than max bytes.
func rotate(path string, max int64, keep int) error {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if st.Size() <= max {
		return nil
	}
	if err := os.Remove(fmt.Sprintf("%s.%d", path, keep)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	for i := keep - 1; i >= 1; i-- {
		err := os.Rename(fmt.Sprintf("%s.%d", path, i), fmt.Sprintf("%s.%d", path, i+1))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if err := os.Rename(path, path+".1"); err != nil {
		return err
	}
	return atomicfile.SyncDir(filepath.Dir(path))
}
