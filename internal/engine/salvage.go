package engine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"

	"github.com/dcehost/dcehost/internal/archive"
	"github.com/dcehost/dcehost/internal/summary"
)

var archiveCleanTemps = archive.CleanTemps

// Working files in .dce-temp: "<id>.json" is an export (complete, or
// partial when DCE was killed); "<id>.salvaged.json" is the complete
// document archive.Salvage made from it.
var (
	exportFileRe   = regexp.MustCompile(`^([0-9]+)\.json$`)
	salvagedFileRe = regexp.MustCompile(`^([0-9]+)\.salvaged\.json$`)
)

func exportPath(tr *targetRun, id string) string {
	return filepath.Join(tr.lay.tempDir, id+".json")
}

// salvageResult is a merge of a leftover export.
type salvageResult struct {
	path string
	res  archive.MergeResult
}

// salvageTarget merges every leftover export in .dce-temp into its
// archive (creating the archive when there is none), before any cursor is
// computed, so messages a killed run downloaded are not fetched again. A
// channel whose leftover cannot be merged is failed and not exported this
// run (its files are kept for the operator).
func (r *run) salvageTarget(ctx context.Context, tr *targetRun, sum *summary.Summary) error {
	entries, err := os.ReadDir(tr.lay.tempDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("target %s: %w", tr.t.Name, err)
	}
	type files struct{ partial, salvaged string }
	byID := map[string]*files{}
	var ids []string
	get := func(id string) *files {
		if byID[id] == nil {
			byID[id] = &files{}
			ids = append(ids, id)
		}
		return byID[id]
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		p := filepath.Join(tr.lay.tempDir, e.Name())
		switch {
		case exportFileRe.MatchString(e.Name()):
			get(exportFileRe.FindStringSubmatch(e.Name())[1]).partial = p
		case salvagedFileRe.MatchString(e.Name()):
			get(salvagedFileRe.FindStringSubmatch(e.Name())[1]).salvaged = p
		default:
			if _, ok := tempOwner(e.Name()); ok {
				// A temp file of a salvage that died: the partial is still there.
				if err := os.Remove(p); err != nil {
					r.log.Warn("removing a dead run's temp file", "path", p, "error", err.Error())
				}
				continue
			}
			r.log.Warn("unknown file in "+TempDirName+" left alone", "target", tr.t.Name, "path", p)
		}
	}
	sortIDs(ids)
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return err
		}
		f := byID[id]
		if !validID(id) {
			continue
		}
		if err := r.salvageChannel(tr, id, f.partial, f.salvaged); err != nil {
			r.log.Error("salvage failed; the channel is not exported this run", "target", tr.t.Name, "channel", id, "error", err.Error())
			tr.blocked[id] = true
			path := tr.archives[id]
			sum.Fail(summary.Failure{Target: tr.t.Name, ChannelID: id, FilePath: path, Error: r.redact("salvage: " + err.Error())})
		}
	}
	return nil
}

// salvageChannel merges one channel's leftovers. partial or salvaged may
// be "".
func (r *run) salvageChannel(tr *targetRun, id, partial, salvaged string) error {
	if partial != "" {
		complete, n, err := archive.Salvage(partial, id)
		var bad *archive.InvalidExportError
		switch {
		case errors.As(err, &bad):
			// Not this channel's export (or unusable): nothing to keep.
			r.log.Warn("discarding an unusable leftover export", "target", tr.t.Name, "channel", id, "reason", err.Error())
			return removeFiles(partial, salvaged)
		case err != nil:
			return err
		case n == 0:
			r.log.Info("leftover export had no complete message", "target", tr.t.Name, "channel", id, "path", partial)
			if err := removeFiles(partial); err != nil {
				return err
			}
			if salvaged == "" {
				return nil
			}
		default:
			salvaged = complete
		}
	}
	if salvaged == "" {
		return nil
	}
	path, err := r.archivePathFor(tr, id, salvaged)
	if err != nil {
		return err
	}
	res, err := archive.Merge(path, salvaged, archive.MergeOptions{ChannelID: id, MetaDir: tr.lay.metaDir})
	var bad *archive.InvalidExportError
	if errors.As(err, &bad) {
		r.log.Warn("discarding an unusable salvaged export", "target", tr.t.Name, "channel", id, "reason", err.Error())
		return removeFiles(partial, salvaged)
	}
	if err != nil {
		return err
	}
	r.log.Info("salvaged a leftover export", "target", tr.t.Name, "channel", id, "action", string(res.Action),
		"messages", res.FetchedCount, "appended", res.Appended, "archive", path)
	tr.setArchive(id, path)
	tr.mu.Lock()
	tr.salvaged[id] = salvageResult{path: path, res: res}
	tr.mu.Unlock()
	return removeFiles(partial, salvaged)
}

// archivePathFor is the channel's archive, or where a new one goes (named
// from the header of doc).
func (r *run) archivePathFor(tr *targetRun, id, doc string) (string, error) {
	tr.mu.Lock()
	p := tr.archives[id]
	tr.mu.Unlock()
	if p != "" {
		return p, nil
	}
	if p, err := tr.lay.archiveFor(id); err != nil || p != "" {
		return p, err
	}
	h, err := readHeader(doc)
	if err != nil {
		return "", &archive.InvalidExportError{Path: doc, Reason: "no readable header", Err: err}
	}
	if h.ChannelID != id {
		return "", &archive.InvalidExportError{Path: doc, Reason: fmt.Sprintf("it is of channel %s, not %s", h.ChannelID, id)}
	}
	return filepath.Join(tr.lay.dir, ArchiveName(h.GuildName, h.Category, h.ChannelName, id)), nil
}

func removeFiles(paths ...string) error {
	for _, p := range paths {
		if p == "" {
			continue
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// salvageEntry is the summary entry of a salvage merge on its own.
func salvageEntry(tr *targetRun, id string, s salvageResult) summary.Channel {
	return summary.Channel{
		Target: tr.t.Name, ChannelID: id, GuildLabel: archiveLabel(s.path), FilePath: s.path,
		Action:      summary.Action(s.res.Action),
		BeforeCount: s.res.BeforeCount, FetchedCount: s.res.FetchedCount, AfterCount: s.res.AfterCount,
		Delta: s.res.AfterCount - s.res.BeforeCount, Reason: "salvaged a partial export",
	}
}

func archiveLabel(path string) string {
	if path == "" {
		return ""
	}
	h, err := readHeader(path)
	if err != nil {
		return ""
	}
	return h.label()
}
