package dce

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// Guild is one line of `guilds`. The direct-messages pseudo-guild has ID "0".
type Guild struct {
	ID   string
	Name string
}

// DirectMessagesGuildID is the id DCE gives the direct-messages pseudo-guild.
const DirectMessagesGuildID = "0"

// Channel is one line of `channels` or `dm`.
type Channel struct {
	ID string
	// Name is the name as listed: "Category / name" for guild channels
	// (just the name without a category), the thread's name for threads,
	// the recipients for a DM channel. Category and channel names may
	// themselves contain " / ", so it is not split; the export document
	// carries category and name separately.
	Name string
	// Thread is set for the " * <id> | Thread / <name> | Active" lines;
	// ParentID is then the channel listed above it and Archived tells
	// Active from Archived.
	Thread   bool
	ParentID string
	Archived bool
}

const (
	sep          = " | "
	threadPrefix = " * "
	threadName   = "Thread / "
)

// ValidID reports whether s is a snowflake: decimal digits that fit in an
// unsigned 64-bit integer, without a sign or leading zeros (except "0").
func ValidID(s string) bool {
	if s == "" || len(s) > 20 || (len(s) > 1 && s[0] == '0') {
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

// lines yields the non-blank lines of a listing with their 1-based numbers,
// without line terminators.
func lines(data []byte, fn func(n int, line string) error) error {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		if err := fn(n, line); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read listing: %w", err)
	}
	return nil
}

// idAndRest splits "<id padded with spaces> | <rest>".
func idAndRest(line string) (id, rest string, err error) {
	head, rest, ok := strings.Cut(line, sep)
	if !ok {
		return "", "", fmt.Errorf("want %q, got %q", "<id> | <name>", line)
	}
	id = strings.TrimRight(head, " ")
	if !ValidID(id) {
		return "", "", fmt.Errorf("id %q is not a snowflake in %q", id, line)
	}
	return id, rest, nil
}

// ParseGuilds parses the output of `guilds`: "<id padded> | <name>" lines.
func ParseGuilds(data []byte) ([]Guild, error) {
	var out []Guild
	err := lines(data, func(n int, line string) error {
		id, name, err := idAndRest(line)
		if err != nil {
			return fmt.Errorf("guilds listing line %d: %w", n, err)
		}
		out = append(out, Guild{ID: id, Name: name})
		return nil
	})
	return out, err
}

// ParseDMs parses the output of `dm`: "<id padded> | <name>" lines.
func ParseDMs(data []byte) ([]Channel, error) {
	var out []Channel
	err := lines(data, func(n int, line string) error {
		id, name, err := idAndRest(line)
		if err != nil {
			return fmt.Errorf("dm listing line %d: %w", n, err)
		}
		out = append(out, Channel{ID: id, Name: name})
		return nil
	})
	return out, err
}

// ParseChannels parses the output of `channels`: "<id> | <name>" per
// channel, each followed by its threads as
// " * <id> | Thread / <name> | Active" (or "Archived").
func ParseChannels(data []byte) ([]Channel, error) {
	var out []Channel
	parent := ""
	err := lines(data, func(n int, line string) error {
		if rest, ok := strings.CutPrefix(line, threadPrefix); ok {
			if parent == "" {
				return fmt.Errorf("channels listing line %d: thread before any channel: %q", n, line)
			}
			id, rest, err := idAndRest(rest)
			if err != nil {
				return fmt.Errorf("channels listing line %d: %w", n, err)
			}
			i := strings.LastIndex(rest, sep)
			if i < 0 {
				return fmt.Errorf("channels listing line %d: thread without Active/Archived: %q", n, line)
			}
			var archived bool
			switch rest[i+len(sep):] {
			case "Active":
			case "Archived":
				archived = true
			default:
				return fmt.Errorf("channels listing line %d: thread state %q: want Active or Archived", n, rest[i+len(sep):])
			}
			name, ok := strings.CutPrefix(rest[:i], threadName)
			if !ok {
				return fmt.Errorf("channels listing line %d: want %q before the thread name: %q", n, threadName, line)
			}
			out = append(out, Channel{ID: id, Name: name, Thread: true, ParentID: parent, Archived: archived})
			return nil
		}
		id, name, err := idAndRest(line)
		if err != nil {
			return fmt.Errorf("channels listing line %d: %w", n, err)
		}
		parent = id
		out = append(out, Channel{ID: id, Name: name})
		return nil
	})
	return out, err
}
