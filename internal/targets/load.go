package targets

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"

	"github.com/dcehost/dcehost/internal/failure"
	"github.com/dcehost/dcehost/internal/settings"
)

// maxConfigSize bounds the config file read into memory.
const maxConfigSize = 16 << 20

// Load reads, parses and validates the config file at path. Every error is
// a *failure.UsageError naming the file and, where it applies, the field.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, failure.Usagef("config file %s does not exist (set DCE_CONFIG_FILE or --config)", path)
		}
		return nil, failure.Usagef("config file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		return nil, failure.Usagef("config file %s: %w", path, err)
	}
	if len(data) > maxConfigSize {
		return nil, failure.Usagef("%s: larger than %d bytes; is this the targets config?", path, maxConfigSize)
	}
	return Parse(path, data)
}

// Parse parses and validates a config file's contents; path is used in
// error messages and as Config.Path (made absolute). Symbolic links in
// archive_root and output_dir are resolved on the local file system for
// the containment check.
func Parse(path string, data []byte) (*Config, error) {
	p := &parser{path: path}
	cfg, err := p.parse(data)
	if err != nil {
		return nil, err
	}
	return cfg, nil
}

type parser struct {
	path string
}

// errf returns a usage error prefixed with the file and field.
func (p *parser) errf(field, format string, args ...any) error {
	if field == "" {
		return failure.Usagef("%s: %s", p.path, fmt.Sprintf(format, args...))
	}
	return failure.Usagef("%s: %s %s", p.path, field, fmt.Sprintf(format, args...))
}

func (p *parser) parse(data []byte) (*Config, error) {
	// Some editors start a UTF-8 file with a byte order mark.
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, p.syntaxError(data, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, p.errf("", "unexpected data after the JSON document (offset %d)", dec.InputOffset())
	}
	root, ok := doc.(map[string]any)
	if !ok {
		return nil, p.errf("", "want a JSON object with archive_root and targets, got %s", jsonType(doc))
	}

	abs, err := filepath.Abs(p.path)
	if err != nil {
		return nil, failure.Usagef("config file %s: %w", p.path, err)
	}
	cfg := &Config{Path: abs}

	rootDir, err := p.archiveRoot(root)
	if err != nil {
		return nil, err
	}
	cfg.ArchiveRoot = rootDir
	resolvedRoot, err := resolveExisting(rootDir)
	if err != nil {
		return nil, p.errf("archive_root", "%q: %v", rootDir, err)
	}

	// Default when neither the defaults block nor the target sets
	// include_threads: "none" (export no threads), the cheapest choice and
	// the one that never surprises with extra channels.
	cfg.Defaults.IncludeThreads = ThreadsNone
	if v, ok := root["defaults"]; ok && v != nil {
		d, ok := v.(map[string]any)
		if !ok {
			return nil, p.errf("defaults", "must be an object, got %s", jsonType(v))
		}
		if v, ok := d["include_threads"]; ok && v != nil {
			t, err := p.threads("defaults.include_threads", v)
			if err != nil {
				return nil, err
			}
			cfg.Defaults.IncludeThreads = t
		}
		if v, ok := d["include_voice_channels"]; ok && v != nil {
			b, ok := v.(bool)
			if !ok {
				return nil, p.errf("defaults.include_voice_channels", "must be true or false, got %s", jsonType(v))
			}
			cfg.Defaults.IncludeVoiceChannels = b
		}
	}

	rawTargets, ok := root["targets"]
	if !ok || rawTargets == nil {
		return nil, p.errf("targets", "is missing; list at least one target")
	}
	list, ok := rawTargets.([]any)
	if !ok {
		return nil, p.errf("targets", "must be an array, got %s", jsonType(rawTargets))
	}
	if len(list) == 0 {
		return nil, p.errf("targets", "is empty; list at least one target")
	}

	names := map[string]int{}
	type dir struct {
		clean, resolved string
		index           int
	}
	var dirs []dir
	for i, raw := range list {
		field := fmt.Sprintf("targets[%d]", i)
		obj, ok := raw.(map[string]any)
		if !ok {
			return nil, p.errf(field, "must be an object, got %s", jsonType(raw))
		}
		t, err := p.target(field, obj, cfg)
		if err != nil {
			return nil, err
		}
		if j, dup := names[t.Name]; dup {
			return nil, p.errf(field+".name", "%q: also used by targets[%d]; names must be unique", t.Name, j)
		}
		names[t.Name] = i

		outField := fmt.Sprintf("%s.output_dir (%s)", field, t.Name)
		resolved, err := resolveExisting(t.OutputDir)
		if err != nil {
			return nil, p.errf(outField, "%q: %v", t.OutputDir, err)
		}
		if !within(resolvedRoot, resolved) {
			return nil, p.errf(outField, "%q: resolves to %s (symbolic link), outside archive_root %s", t.OutputDir, resolved, rootDir)
		}
		for _, d := range dirs {
			switch {
			case d.resolved == resolved:
				return nil, p.errf(outField, "%q: also the output_dir of targets[%d]; every target needs its own", t.OutputDir, d.index)
			case within(d.resolved, resolved), within(resolved, d.resolved):
				return nil, p.errf(outField, "%q: overlaps the output_dir of targets[%d] %q; output dirs must not contain each other", t.OutputDir, d.index, d.clean)
			}
		}
		dirs = append(dirs, dir{clean: t.OutputDir, resolved: resolved, index: i})
		cfg.Targets = append(cfg.Targets, t)
	}
	return cfg, nil
}

func (p *parser) syntaxError(data []byte, err error) error {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		line, col := lineCol(data, syn.Offset)
		return p.errf("", "line %d, column %d: invalid JSON: %v", line, col, err)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return p.errf("", "invalid JSON: unexpected end of file")
	}
	return p.errf("", "invalid JSON: %v", err)
}

func lineCol(data []byte, offset int64) (int, int) {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	before := data[:offset]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(offset) - bytes.LastIndexByte(before, '\n')
	return line, col
}

func (p *parser) archiveRoot(root map[string]any) (string, error) {
	v, ok := root["archive_root"]
	if !ok || v == nil {
		return "", p.errf("archive_root", "is missing; set it to the absolute directory that holds every output_dir")
	}
	s, ok := v.(string)
	if !ok {
		return "", p.errf("archive_root", "must be a string, got %s", jsonType(v))
	}
	if s == "" {
		return "", p.errf("archive_root", "is empty; set it to an absolute directory")
	}
	if !filepath.IsAbs(s) {
		return "", p.errf("archive_root", "%q: must be an absolute path", s)
	}
	if hasDotDot(s) {
		return "", p.errf("archive_root", "%q: must not contain .. segments", s)
	}
	return filepath.Clean(s), nil
}

func (p *parser) target(field string, obj map[string]any, cfg *Config) (Target, error) {
	t := Target{
		Kind:                 Guild,
		Enabled:              true,
		IncludeThreads:       cfg.Defaults.IncludeThreads,
		IncludeVoiceChannels: cfg.Defaults.IncludeVoiceChannels,
	}

	name, err := p.requiredString(field+".name", obj["name"])
	if err != nil {
		return t, err
	}
	if strings.TrimSpace(name) != name || strings.IndexFunc(name, unicode.IsControl) >= 0 || strings.HasPrefix(name, "-") {
		return t, p.errf(field+".name", "%q: must not start with '-' or contain control characters or surrounding spaces", name)
	}
	t.Name = name
	// From here on errors name the target too: targets[2].output_dir (name).
	sub := func(key string) string { return fmt.Sprintf("%s.%s (%s)", field, key, name) }
	whole := fmt.Sprintf("%s (%s):", field, name)

	if v, ok := obj["kind"]; ok && v != nil {
		s, ok := v.(string)
		if !ok {
			return t, p.errf(sub("kind"), "must be a string, got %s", jsonType(v))
		}
		switch Kind(s) {
		case Guild, DMs:
			t.Kind = Kind(s)
		default:
			return t, p.errf(sub("kind"), "%q: unknown kind; want %q or %q", s, Guild, DMs)
		}
	}

	out, err := p.requiredString(sub("output_dir"), obj["output_dir"])
	if err != nil {
		return t, err
	}
	if !filepath.IsAbs(out) {
		return t, p.errf(sub("output_dir"), "%q: must be an absolute path", out)
	}
	if hasDotDot(out) {
		return t, p.errf(sub("output_dir"), "%q: must not contain .. segments", out)
	}
	t.OutputDir = filepath.Clean(out)
	if !within(cfg.ArchiveRoot, t.OutputDir) {
		return t, p.errf(sub("output_dir"), "%q: outside archive_root %s", out, cfg.ArchiveRoot)
	}

	if t.GuildIDs, err = p.ids(sub, "guild_ids", obj["guild_ids"]); err != nil {
		return t, err
	}
	if t.ChannelIDs, err = p.ids(sub, "channel_ids", obj["channel_ids"]); err != nil {
		return t, err
	}
	if t.GuildNamePatterns, err = p.patterns(sub, "guild_name_patterns", obj["guild_name_patterns"]); err != nil {
		return t, err
	}
	switch {
	case t.Kind == DMs && len(t.GuildIDs)+len(t.ChannelIDs)+len(t.GuildNamePatterns) > 0:
		return t, p.errf(whole, "kind %q exports every DM channel the token sees; remove guild_ids, channel_ids and guild_name_patterns", DMs)
	case t.Kind == Guild && len(t.GuildIDs)+len(t.ChannelIDs)+len(t.GuildNamePatterns) == 0:
		return t, p.errf(whole, "kind %q needs guild_ids, channel_ids or guild_name_patterns", Guild)
	}

	if v, ok := obj["enabled"]; ok && v != nil {
		b, ok := v.(bool)
		if !ok {
			return t, p.errf(sub("enabled"), "must be true or false, got %s", jsonType(v))
		}
		t.Enabled = b
	}
	if v, ok := obj["container_memory"]; ok && v != nil {
		s, ok := v.(string)
		if !ok {
			return t, p.errf(sub("container_memory"), "must be a string such as \"8g\", got %s", jsonType(v))
		}
		if s != "" && !settings.ValidMemory(s) {
			return t, p.errf(sub("container_memory"), "%q: want a size such as 8g or 512m, or 0 for no limit", s)
		}
		t.ContainerMemory = s
	}
	if v, ok := obj["include_threads"]; ok && v != nil {
		if t.IncludeThreads, err = p.threads(sub("include_threads"), v); err != nil {
			return t, err
		}
	}
	if v, ok := obj["include_voice_channels"]; ok && v != nil {
		b, ok := v.(bool)
		if !ok {
			return t, p.errf(sub("include_voice_channels"), "must be true or false, got %s", jsonType(v))
		}
		t.IncludeVoiceChannels = b
	}
	return t, nil
}

func (p *parser) requiredString(field string, v any) (string, error) {
	if v == nil {
		return "", p.errf(field, "is missing")
	}
	s, ok := v.(string)
	if !ok {
		return "", p.errf(field, "must be a string, got %s", jsonType(v))
	}
	if s == "" {
		return "", p.errf(field, "is empty")
	}
	return s, nil
}

func (p *parser) threads(field string, v any) (Threads, error) {
	s, ok := v.(string)
	if !ok {
		return "", p.errf(field, "must be a string, got %s", jsonType(v))
	}
	switch t := Threads(s); t {
	case ThreadsNone, ThreadsActive, ThreadsAll:
		return t, nil
	}
	return "", p.errf(field, "%q: want %q, %q or %q", s, ThreadsNone, ThreadsActive, ThreadsAll)
}

// ids reads a list of snowflakes. JSON strings are the norm (ids exceed
// 2^53); a number is accepted only when its literal is an exact integer
// that fits 64 bits, so no precision can have been lost.
func (p *parser) ids(sub func(string) string, key string, v any) ([]string, error) {
	field := sub(key)
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, p.errf(field, "must be an array of id strings, got %s", jsonType(v))
	}
	var out []string
	seen := map[string]bool{}
	for i, e := range list {
		var id string
		switch e := e.(type) {
		case string:
			id = e
		case json.Number:
			id = e.String()
			if !IsSnowflake(id) {
				return nil, p.errf(sub(fmt.Sprintf("%s[%d]", key, i)), "%s: a number that is not an exact id; write ids as strings, e.g. \"123456789012345678\"", id)
			}
		default:
			return nil, p.errf(sub(fmt.Sprintf("%s[%d]", key, i)), "must be an id string, got %s", jsonType(e))
		}
		if !IsSnowflake(id) {
			return nil, p.errf(sub(fmt.Sprintf("%s[%d]", key, i)), "%q: not a Discord id (digits only)", id)
		}
		if seen[id] {
			return nil, p.errf(sub(fmt.Sprintf("%s[%d]", key, i)), "%q: listed twice", id)
		}
		seen[id] = true
		out = append(out, id)
	}
	return out, nil
}

func (p *parser) patterns(sub func(string) string, key string, v any) ([]string, error) {
	field := sub(key)
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, p.errf(field, "must be an array of strings, got %s", jsonType(v))
	}
	var out []string
	for i, e := range list {
		s, ok := e.(string)
		if !ok {
			return nil, p.errf(sub(fmt.Sprintf("%s[%d]", key, i)), "must be a string, got %s", jsonType(e))
		}
		// Names are compared reduced to letters and digits; a pattern with
		// none would match every guild.
		if strings.IndexFunc(s, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) < 0 {
			return nil, p.errf(sub(fmt.Sprintf("%s[%d]", key, i)), "%q: has no letters or digits and would match every guild", s)
		}
		out = append(out, s)
	}
	return out, nil
}

// IsSnowflake reports whether s is a Discord id: decimal digits without a
// leading zero, non-zero, fitting 64 bits.
func IsSnowflake(s string) bool {
	if s == "" || s[0] == '0' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	_, err := strconv.ParseUint(s, 10, 64)
	return err == nil
}

func jsonType(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "the number " + v.String()
	case string:
		return fmt.Sprintf("the string %q", v)
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// hasDotDot reports whether a slash-separated path has a ".." segment.
func hasDotDot(p string) bool {
	for _, seg := range strings.Split(filepath.ToSlash(p), "/") {
		if seg == ".." {
			return true
		}
	}
	return false
}

// within reports whether path is strictly below dir (both clean and
// absolute).
func within(dir, path string) bool {
	if dir == string(filepath.Separator) {
		return path != dir && strings.HasPrefix(path, dir)
	}
	return strings.HasPrefix(path, dir+string(filepath.Separator))
}

// resolveExisting resolves symbolic links in the longest existing prefix
// of the clean absolute path p and appends the rest, so a directory that
// does not exist yet is judged by where it would be created.
func resolveExisting(p string) (string, error) {
	rest := ""
	cur := p
	for {
		resolved, err := filepath.EvalSymlinks(cur)
		if err == nil {
			return filepath.Join(resolved, rest), nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("resolve symbolic links: %w", err)
		}
		if fi, lerr := os.Lstat(cur); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return "", fmt.Errorf("%s is a symbolic link to a missing target", cur)
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return p, nil
		}
		rest = filepath.Join(filepath.Base(cur), rest)
		cur = parent
	}
}
