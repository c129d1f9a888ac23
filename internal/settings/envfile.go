package settings

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"regexp"
	"strings"

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
		m := assignment.FindStringSubmatch(line)
		if m == nil {
			return nil, failure.Usagef("%s:%d: expected KEY=VALUE, got %q", path, n, clip(trimmed))
		}
		// Each line is checked on its own so an error names its line.
		if _, err := godotenv.Unmarshal(line); err != nil {
			return nil, failure.Usagef("%s:%d: %v", path, n, err)
		}
		f.lines[m[1]] = n
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("env file %s: %w", path, err)
	}
	// The whole file is parsed once more for the values, so ${VAR}
	// expansion sees earlier lines (godotenv semantics; nothing is executed).
	values, err := godotenv.UnmarshalBytes(data)
	if err != nil {
		return nil, failure.Usagef("%s: %v", path, err)
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

func clip(s string) string {
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}
