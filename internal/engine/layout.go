package engine

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/dcehost/dcehost/internal/archive"
	"github.com/dcehost/dcehost/internal/atomicfile"
)

// Names inside a target's output_dir (compat.md).
const (
	TempDirName    = ".dce-temp"
	MetaDirName    = ".dce-meta"
	ChannelMapName = "channel-map.json"
)

// maxNameBytes is the longest file name Linux file systems take.
const maxNameBytes = 255

var archiveNameRe = regexp.MustCompile(`\[([0-9]+)\]\.json$`)

// ArchiveName is the file name of a channel's archive:
// "<Guild> - <Category> - <Channel> [<id>].json" with empty parts dropped,
// "/" and "\" replaced by "_", control characters and runs of whitespace
// turned into one space. A name too long for the file system is cut (at a
// character boundary) before " [<id>].json", which is always kept.
func ArchiveName(guild, category, channel, id string) string {
	var parts []string
	for _, p := range []string{guild, category, channel} {
		if p = sanitizePart(p); p != "" {
			parts = append(parts, p)
		}
	}
	suffix := "[" + id + "].json"
	base := strings.Join(parts, " - ")
	if base == "" {
		return suffix
	}
	suffix = " " + suffix
	if room := maxNameBytes - len(suffix); len(base) > room {
		cut := room
		for cut > 0 && !utf8.RuneStart(base[cut]) {
			cut--
		}
		base = strings.TrimRight(base[:cut], " ")
	}
	return base + suffix
}

func sanitizePart(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		if r == '/' || r == '\\' {
			r = '_'
		}
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}

// layout is what is on disk under one target's output_dir.
type layout struct {
	dir     string // output_dir, cleaned
	realDir string // output_dir with symlinks resolved ("" when it does not exist)
	tempDir string
	metaDir string
	// found maps a channel id to the archives named "... [<id>].json"
	// below dir (.dce-temp and .dce-meta excluded).
	found map[string][]string
	// mapped is .dce-meta/channel-map.json as read (entries pointing
	// outside output_dir dropped).
	mapped map[string]string
	// staleTemps are temp files a crashed merge left beside archives.
	staleTemps []string
}

// scanLayout reads output_dir. skip lists other targets' output_dirs (never
// descended into, so two targets never share an archive).
func scanLayout(dir string, skip []string) (*layout, []string, error) {
	l := &layout{
		dir:     filepath.Clean(dir),
		found:   map[string][]string{},
		mapped:  map[string]string{},
		tempDir: filepath.Join(dir, TempDirName),
		metaDir: filepath.Join(dir, MetaDirName),
	}
	var warnings []string
	real, err := filepath.EvalSymlinks(l.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return l, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("output_dir %s: %w", dir, err)
	}
	l.realDir = real
	for _, sub := range []string{l.tempDir, l.metaDir} {
		if fi, err := os.Lstat(sub); err == nil && !fi.IsDir() {
			return nil, nil, fmt.Errorf("%s: not a directory (a symlink or file here could lead writes outside output_dir)", sub)
		}
	}
	err = filepath.WalkDir(l.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("scan %s: %w", p, err)
		}
		if d.IsDir() {
			if p != l.dir && (d.Name() == TempDirName || d.Name() == MetaDirName || slices.Contains(skip, p)) {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		name := d.Name()
		if m := archiveNameRe.FindStringSubmatch(name); m != nil {
			if id := archive.ChannelIDFromName(name); id != "" {
				l.found[id] = append(l.found[id], p)
			}
			return nil
		}
		if orig, ok := tempOwner(name); ok {
			l.staleTemps = append(l.staleTemps, filepath.Join(filepath.Dir(p), orig))
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	warnings = append(warnings, l.readChannelMap()...)
	return l, warnings, nil
}

// tempOwner recognises the archive package's temp files
// (".<archive name>.dcehost-tmp-*") and returns the archive name.
func tempOwner(name string) (string, bool) {
	if !strings.HasPrefix(name, ".") {
		return "", false
	}
	i := strings.Index(name, ".dcehost-tmp-")
	if i <= 1 {
		return "", false
	}
	return name[1:i], true
}

// inside reports whether path lies inside output_dir once symlinks of its
// directory are resolved.
func (l *layout) inside(path string) bool {
	if !filepath.IsAbs(path) || l.realDir == "" {
		return false
	}
	dir, err := filepath.EvalSymlinks(filepath.Dir(path))
	if err != nil {
		return false
	}
	rel, err := filepath.Rel(l.realDir, dir)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return false
	}
	first := strings.Split(rel, string(filepath.Separator))[0]
	return first != TempDirName && first != MetaDirName
}

func (l *layout) channelMapPath() string { return filepath.Join(l.metaDir, ChannelMapName) }

func (l *layout) readChannelMap() []string {
	data, err := os.ReadFile(l.channelMapPath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return []string{fmt.Sprintf("channel map %s: %v (ignored)", l.channelMapPath(), err)}
	}
	var m map[string]string
	if err := json.Unmarshal(data, &m); err != nil {
		return []string{fmt.Sprintf("channel map %s: %v (ignored; it is rewritten)", l.channelMapPath(), err)}
	}
	var warnings []string
	for id, p := range m {
		switch {
		case !validID(id):
			warnings = append(warnings, fmt.Sprintf("channel map %s: key %q is not a channel id (dropped)", l.channelMapPath(), id))
		case !l.inside(filepath.Clean(p)):
			warnings = append(warnings, fmt.Sprintf("channel map %s: %s -> %s is outside output_dir %s (dropped)", l.channelMapPath(), id, p, l.dir))
		default:
			l.mapped[id] = filepath.Clean(p)
		}
	}
	return warnings
}

// archiveFor returns the archive of channel id ("" when there is none yet):
// the one file named "... [<id>].json", or the channel map's entry when it
// names an existing file. Two files for one channel that the map does not
// decide between are an error.
func (l *layout) archiveFor(id string) (string, error) {
	paths := l.found[id]
	mp := l.mapped[id]
	switch {
	case len(paths) == 1:
		return paths[0], nil
	case len(paths) > 1:
		if slices.Contains(paths, mp) {
			return mp, nil
		}
		return "", fmt.Errorf("channel %s has %d archives (%s); keep one, or name the right one in %s",
			id, len(paths), strings.Join(paths, ", "), l.channelMapPath())
	}
	if mp != "" {
		if fi, err := os.Stat(mp); err == nil && fi.Mode().IsRegular() {
			return mp, nil
		}
	}
	return "", nil
}

// knownIDs are the channels that already have an archive or a map entry.
func (l *layout) knownIDs() []string {
	var ids []string
	for id := range l.found {
		ids = append(ids, id)
	}
	for id := range l.mapped {
		if _, ok := l.found[id]; !ok {
			ids = append(ids, id)
		}
	}
	sortIDs(ids)
	return ids
}

// writeChannelMap stores {"<id>": "<absolute archive path>"} for every
// archive that exists, when that differs from the file on disk.
func (l *layout) writeChannelMap(archives map[string]string) error {
	m := map[string]string{}
	for id, p := range archives {
		if p == "" {
			continue
		}
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && l.inside(p) {
			m[id] = p
		}
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("channel map: %w", err)
	}
	data = append(data, '\n')
	if old, err := os.ReadFile(l.channelMapPath()); err == nil && bytes.Equal(old, data) {
		return nil
	}
	if len(m) == 0 {
		if _, err := os.Stat(l.channelMapPath()); errors.Is(err, fs.ErrNotExist) {
			return nil
		}
	}
	if err := os.MkdirAll(l.metaDir, 0o755); err != nil {
		return fmt.Errorf("channel map: %w", err)
	}
	if err := atomicfile.WriteFile(l.channelMapPath(), data, 0o644); err != nil {
		return fmt.Errorf("channel map: %w", err)
	}
	return nil
}

// header is the start of a DCE document: who it belongs to.
type header struct {
	GuildID, GuildName               string
	ChannelID, Category, ChannelName string
	Guild, Channel                   json.RawMessage
}

func (h header) label() string {
	if h.GuildID == "" && h.GuildName == "" {
		return ""
	}
	return guildLabel(h.GuildName, h.GuildID)
}

func guildLabel(name, id string) string {
	if name == "" {
		return "[" + id + "]"
	}
	return name + " [" + id + "]"
}

// flexString takes a JSON string or number (old tools wrote numeric ids).
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
		return nil
	}
	if string(b) == "null" {
		*f = ""
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*f = flexString(n.String())
	return nil
}

// readHeader reads "guild" and "channel" from the start of a DCE document
// (complete or partial) without reading its messages.
func readHeader(path string) (header, error) {
	var h header
	f, err := os.Open(path)
	if err != nil {
		return h, err
	}
	defer f.Close()
	dec := json.NewDecoder(bufio.NewReaderSize(f, 16<<10))
	bad := func(err error) (header, error) { return h, fmt.Errorf("read header of %s: %w", path, err) }
	if tok, err := dec.Token(); err != nil {
		return bad(err)
	} else if tok != json.Delim('{') {
		return bad(errors.New("not a JSON object"))
	}
	for dec.More() && (h.Guild == nil || h.Channel == nil) {
		tok, err := dec.Token()
		if err != nil {
			return bad(err)
		}
		key, _ := tok.(string)
		if key == "messages" {
			break
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return bad(err)
		}
		switch key {
		case "guild":
			var g struct {
				ID   flexString `json:"id"`
				Name string     `json:"name"`
			}
			if err := json.Unmarshal(raw, &g); err != nil {
				return bad(fmt.Errorf("guild: %w", err))
			}
			h.Guild, h.GuildID, h.GuildName = raw, string(g.ID), g.Name
		case "channel":
			var c struct {
				ID       flexString `json:"id"`
				Category string     `json:"category"`
				Name     string     `json:"name"`
			}
			if err := json.Unmarshal(raw, &c); err != nil {
				return bad(fmt.Errorf("channel: %w", err))
			}
			h.Channel, h.ChannelID, h.Category, h.ChannelName = raw, string(c.ID), c.Category, c.Name
		}
	}
	if h.Channel == nil {
		return bad(errors.New("no channel object before the messages"))
	}
	return h, nil
}
