package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"time"
)

// State is the world the fake sees, read from the file named by
// FAKEDCE_STATE on every invocation (tests rewrite it between runs).
//
//	{
//	  "tokens": ["good-token"],            // accepted tokens; empty = any non-empty token
//	  "now": "2026-06-04T12:00:00Z",       // exportedAt; default: the real clock
//	  "older_dce": false,                  // empty export is an error (old DCE) instead of a warning
//	  "fault": {"command": "export", "exit_code": 3, "stderr": "boom\n"},
//	  "guilds": [{"id": "1", "name": "My Server", "channels": [
//	      {"id": "10", "name": "general", "category": "Text", "category_id": "5",
//	       "voice": false, "forum": false, "error": "",
//	       "messages": [{"id": "100", "content": "hi", "edited": "2026-01-01T00:00:00+00:00"}],
//	       "generate": {"count": 50, "first_id": "1000", "step": 1},
//	       "fault": {"kill_after": 3, "signal": "KILL"},
//	       "threads": [{"id": "11", "name": "a thread", "archived": false, "messages": []}]}]}],
//	  "dms": [{"id": "20", "name": "friend", "messages": []}]
//	}
//
// A channel's "error" is one of: "forbidden" (403 while exporting),
// "forbidden_resolve" (403 while resolving the channel), "not_found",
// "rate_limited" (429 after retries), "intent" (bot without the
// MESSAGE_CONTENT intent). A channel id that is nowhere in the state is
// not found. A channel "fault" applies to its exports: "exit_code" with
// "stderr" exits at once without a file; "signal" (KILL, TERM, INT) kills
// the process after "kill_after" messages were written and flushed.
// "export_as" writes another channel id into the document; "resend" adds
// that many messages at or before --after (an overlapping export).
type State struct {
	Tokens   []string  `json:"tokens"`
	Now      string    `json:"now"`
	OlderDCE bool      `json:"older_dce"`
	Fault    *Fault    `json:"fault"`
	Guilds   []Guild   `json:"guilds"`
	DMs      []Channel `json:"dms"`
}

// Guild is a server.
type Guild struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	Channels []Channel `json:"channels"`
}

// Channel is a text, voice or forum channel, a thread, or a DM channel.
type Channel struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Category   string    `json:"category"`
	CategoryID string    `json:"category_id"`
	Topic      string    `json:"topic"`
	Voice      bool      `json:"voice"`
	Forum      bool      `json:"forum"`
	Archived   bool      `json:"archived"`
	Error      string    `json:"error"`
	Messages   []Message `json:"messages"`
	Generate   *Generate `json:"generate"`
	Fault      *Fault    `json:"fault"`
	Threads    []Channel `json:"threads"`
	// ExportAs writes this channel id into exported documents (a DCE that
	// exported the wrong channel).
	ExportAs string `json:"export_as"`
	// Resend adds up to this many messages at or before --after to an
	// export (an export overlapping the archive).
	Resend int `json:"resend"`
}

// Message is one message; empty fields get defaults derived from the id.
type Message struct {
	ID         string `json:"id"`
	Timestamp  string `json:"timestamp"`
	Edited     string `json:"edited"`
	Content    string `json:"content"`
	AuthorID   string `json:"author_id"`
	AuthorName string `json:"author_name"`
}

// Generate adds Count messages with ids FirstID, FirstID+Step, ...
type Generate struct {
	Count   int    `json:"count"`
	FirstID string `json:"first_id"`
	Step    uint64 `json:"step"`
}

// Fault is an injected failure.
type Fault struct {
	Command   string `json:"command"`
	ExitCode  int    `json:"exit_code"`
	Stderr    string `json:"stderr"`
	KillAfter int    `json:"kill_after"`
	Signal    string `json:"signal"`
}

func loadState(path string) (*State, error) {
	if path == "" {
		return nil, fmt.Errorf("FAKEDCE_STATE is not set")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	var st State
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("state %s: %w", path, err)
	}
	return &st, nil
}

func (st *State) tokenValid(tok string) bool {
	if tok == "" {
		return false
	}
	if len(st.Tokens) == 0 {
		return true
	}
	for _, t := range st.Tokens {
		if t == tok {
			return true
		}
	}
	return false
}

func (st *State) now() time.Time {
	if st.Now != "" {
		if t, err := time.Parse(time.RFC3339, st.Now); err == nil {
			return t
		}
	}
	return time.Now()
}

// found is a channel with where it lives.
type found struct {
	guild  Guild
	ch     Channel
	parent *Channel // threads
	dm     bool
}

var dmGuild = Guild{ID: "0", Name: "Direct Messages"}

func (st *State) find(id string) (found, bool) {
	for _, g := range st.Guilds {
		for _, c := range g.Channels {
			if c.ID == id {
				return found{guild: g, ch: c}, true
			}
			for _, t := range c.Threads {
				if t.ID == id {
					p := c
					return found{guild: g, ch: t, parent: &p}, true
				}
			}
		}
	}
	for _, c := range st.DMs {
		if c.ID == id {
			return found{guild: dmGuild, ch: c, dm: true}, true
		}
	}
	return found{}, false
}

// messages returns the channel's messages in the order the fake holds
// them (explicit first, then generated); export sorts them.
func (c Channel) messages() ([]Message, error) {
	msgs := append([]Message(nil), c.Messages...)
	if g := c.Generate; g != nil {
		first, err := strconv.ParseUint(g.FirstID, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("generate.first_id %q: %w", g.FirstID, err)
		}
		step := g.Step
		if step == 0 {
			step = 1
		}
		for i := 0; i < g.Count; i++ {
			id := first + uint64(i)*step
			msgs = append(msgs, Message{ID: strconv.FormatUint(id, 10), Content: "message " + strconv.FormatUint(id, 10)})
		}
	}
	return msgs, nil
}
