package settings

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"regexp"
	"strings"
	"unicode"

	"github.com/joho/godotenv"

	"github.com/dcehost/dcehost/internal/failure"
)

// EnvFile is a parsed env file: KEY=VALUE lines, optional `export `, `#`
// comments, one pair of surrounding quotes stripped. It is parsed with
// godotenv and never executed by a shell.
type EnvFile struct {
	Path   string
	values map[string]string // every key, including empty values
	lines  map[string]int    // key -> 1-based line of its last assignment
}

var assignment = regexp.MustCompile(`^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=`)

// ParseEnvFile reads and parses path. A syntax error names path:line.
func ParseEnvFile(path string) (*EnvFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("env file %s: %w", path, err)
	}
	return parseEnv(path, data)
}

func parseEnv(path string, data []byte) (*EnvFile, error) {
	f := &EnvFile{Path: path, values: map[string]string{}, lines: map[string]int{}}
	data = bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
	// Some editors start a UTF-8 file with a byte order mark.
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		// Error messages never quote a line or a value: the line may hold
		// the Discord token.
		m := assignment.FindStringSubmatch(line)
		if m == nil {
			return nil, failure.Usagef("%s:%d: expected KEY=VALUE (a variable name, '=', then the value)", path, n)
		}
		key := m[1]
		// Each line is checked on its own so an error names its line.
		one, err := godotenv.Unmarshal(line)
		if err != nil {
			if strings.Contains(err.Error(), "unterminated quoted value") {
				return nil, failure.Usagef("%s:%d: %s: unterminated quote (close it on the same line)", path, n, key)
			}
			return nil, failure.Usagef("%s:%d: %s: the value cannot be parsed (quote the whole value, or start a comment with ' #')", path, n, key)
		}
		if _, ok := one[key]; !ok || len(one) != 1 {
			return nil, failure.Usagef("%s:%d: %s: unexpected text after the quoted value (quote the whole value, or start a comment with ' #')", path, n, key)
		}
		if name := undefinedReference(line[len(m[0]):], f.lines); name != "" {
			return nil, failure.Usagef("%s:%d: %s: $%s is not set earlier in this file; the env file is not run by a shell, so write the value out (a leading ~/ is expanded in paths)", path, n, key, name)
		}
		f.lines[key] = n
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("env file %s: %w", path, err)
	}
	// The whole file is parsed once more for the values, so ${VAR}
	// expansion sees earlier lines (godotenv semantics; nothing is executed).
	values, err := godotenv.UnmarshalBytes(data)
	if err != nil {
		return nil, failure.Usagef("%s: the file cannot be parsed as KEY=VALUE lines", path)
	}
	f.values = values
	return f, nil
}

// Lookup returns the value of key. An empty value counts as unset.
func (f *EnvFile) Lookup(key string) (string, bool) {
	if f == nil {
		return "", false
	}
	v := f.values[key]
	return v, v != ""
}

// Line returns the 1-based line of key's assignment, or 0.
func (f *EnvFile) Line(key string) int {
	if f == nil {
		return 0
	}
	return f.lines[key]
}

// Keys returns every key assigned in the file (including empty ones), in
// no particular order.
func (f *EnvFile) Keys() []string {
	if f == nil {
		return nil
	}
	keys := make([]string, 0, len(f.values))
	for k := range f.values {
		keys = append(keys, k)
	}
	return keys
}

// reference matches what godotenv expands in unquoted and double-quoted
// values: $NAME or ${NAME}, unless escaped with a backslash.
var reference = regexp.MustCompile(`(\\)?\$\(?\{?([A-Z0-9_]+)`)

// undefinedReference returns the first variable a value refers to that is
// not assigned earlier in the file ("" when none). godotenv would silently
// replace it with nothing, unlike the shell that used to source the file.
func undefinedReference(value string, defined map[string]int) string {
	value = strings.TrimLeftFunc(value, unicode.IsSpace)
	if strings.HasPrefix(value, "'") {
		return "" // single quotes: literal
	}
	for _, m := range reference.FindAllStringSubmatch(value, -1) {
		if m[1] != "" {
			continue
		}
		if _, ok := defined[m[2]]; !ok {
			return m[2]
		}
	}
	return ""
}
