package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"
)

// discordEpoch is the snowflake epoch in Unix milliseconds.
const discordEpoch = 1420070400000

func snowflakeTime(id uint64) time.Time {
	return time.UnixMilli(int64(id>>22) + discordEpoch)
}

// parseBound reads an --after/--before value: a snowflake or a date.
func parseBound(v string) (uint64, bool, error) {
	if v == "" {
		return 0, false, nil
	}
	if n, err := strconv.ParseUint(v, 10, 64); err == nil {
		return n, true, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			ms := t.UnixMilli() - discordEpoch
			if ms < 0 {
				ms = 0
			}
			return uint64(ms) << 22, true, nil
		}
	}
	return 0, false, fmt.Errorf("Can't convert value %q to type 'Snowflake'.", v)
}

// formatDate is .NET's round-trip DateTimeOffset form as DCE writes it:
// explicit offset, fraction only when non-zero.
func formatDate(t time.Time) string {
	return t.In(time.Local).Format("2006-01-02T15:04:05.9999999-07:00")
}

func messagesURL(id string, after uint64) string {
	return fmt.Sprintf("https://discord.com/api/v10/channels/%s/messages?limit=100&after=%d", id, after)
}

func cmdExport(st *State, opts options, stdout, stderr io.Writer) int {
	ids := opts.values["channel"]
	if len(ids) == 0 {
		fmt.Fprintln(stderr, "ERROR")
		fmt.Fprintln(stderr, "Missing required option(s):")
		fmt.Fprintln(stderr, "-c|--channel")
		return exitError
	}
	if f := opts.get("format"); !strings.EqualFold(f, "Json") {
		fmt.Fprintf(stderr, "fakedce: only --format Json is supported, got %q\n", f)
		return 99
	}
	output := opts.get("output")
	if output == "" {
		fmt.Fprintln(stderr, "fakedce: --output is required by this fake")
		return 99
	}
	after, hasAfter, err := parseBound(opts.get("after"))
	if err != nil {
		fmt.Fprintf(stderr, "ERROR\n%v\n", err)
		return exitError
	}
	before, hasBefore, err := parseBound(opts.get("before"))
	if err != nil {
		fmt.Fprintf(stderr, "ERROR\n%v\n", err)
		return exitError
	}

	// Resolve every channel first; failures here are unhandled errors.
	var chans []found
	for _, id := range ids {
		f, ok := st.find(id)
		if !ok || f.ch.Error == "not_found" {
			unhandled(stderr, fmt.Sprintf("Request to 'https://discord.com/api/v10/channels/%s' failed: not found.", id))
			return exitError
		}
		if f.ch.Error == "forbidden_resolve" {
			unhandled(stderr, fmt.Sprintf("Request to 'https://discord.com/api/v10/channels/%s' failed: forbidden.", id))
			return exitError
		}
		chans = append(chans, f)
	}

	fmt.Fprintf(stdout, "Exporting %d channel(s)...\n", len(chans))
	type failed struct{ name, msg string }
	var errs, warns []failed
	for _, f := range chans {
		c := f.ch
		name := hierarchicalName(c)
		if f.parent != nil {
			name = hierarchicalName(*f.parent) + " / " + c.Name
		}
		switch c.Error {
		case "forbidden":
			errs = append(errs, failed{name, fmt.Sprintf("Request to '%s' failed: forbidden.", messagesURL(c.ID, after))})
			continue
		case "rate_limited":
			unhandled(stderr, fmt.Sprintf("Request to '%s' failed: too many requests.", messagesURL(c.ID, after)))
			return exitError
		case "intent":
			unhandled(stderr, "Provided bot account is missing the MESSAGE_CONTENT privileged intent.")
			return exitError
		}
		if c.Forum {
			errs = append(errs, failed{name, fmt.Sprintf("Channel '%s' of guild '%s' is a forum and cannot be exported directly. You need to pull its threads and export them individually.", c.Name, f.guild.Name)})
			continue
		}
		if fl := c.Fault; fl != nil && fl.ExitCode != 0 {
			fmt.Fprint(stderr, fl.Stderr)
			return fl.ExitCode
		}
		all, err := c.messages()
		if err != nil {
			fmt.Fprintf(stderr, "fakedce: %v\n", err)
			return 99
		}
		var msgs []Message
		var nums []uint64
		var older []uint64 // ids at or before --after, for "resend"
		for _, m := range all {
			n, err := strconv.ParseUint(m.ID, 10, 64)
			if err != nil {
				fmt.Fprintf(stderr, "fakedce: message id %q: %v\n", m.ID, err)
				return 99
			}
			if hasAfter && n <= after {
				older = append(older, n)
			}
			if hasAfter && n <= after || hasBefore && n >= before {
				continue
			}
			msgs = append(msgs, m)
			nums = append(nums, n)
		}
		if c.Resend > 0 && len(older) > 0 {
			slices.Sort(older)
			from := older[max(0, len(older)-c.Resend)]
			for _, m := range all {
				n, _ := strconv.ParseUint(m.ID, 10, 64)
				if n >= from && n <= after {
					msgs = append(msgs, m)
					nums = append(nums, n)
				}
			}
		}
		order := make([]int, len(msgs))
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int {
			switch {
			case nums[a] < nums[b]:
				return -1
			case nums[a] > nums[b]:
				return 1
			}
			return 0
		})
		sorted := make([]Message, len(msgs))
		for i, j := range order {
			sorted[i] = msgs[j]
		}
		empty := fmt.Sprintf("Channel '%s' of guild '%s' does not contain any messages within the specified period", c.Name, f.guild.Name)
		if len(sorted) == 0 && st.OlderDCE {
			errs = append(errs, failed{name, empty + "."})
			continue
		}
		path := output
		if len(chans) > 1 {
			path = filepath.Join(output, defaultFileName(f))
		}
		doc := document{st: st, f: f, msgs: sorted}
		if hasAfter {
			d := formatDate(snowflakeTime(after))
			doc.after = &d
		}
		if hasBefore {
			d := formatDate(snowflakeTime(before))
			doc.before = &d
		}
		if err := doc.write(path); err != nil {
			fmt.Fprintf(stderr, "fakedce: %v\n", err)
			return 99
		}
		if len(sorted) == 0 {
			warns = append(warns, failed{name, empty + "; an empty file will be created."})
		}
	}

	fmt.Fprintf(stdout, "Successfully exported %d channel(s).\n", len(chans)-len(errs))
	if len(warns) > 0 {
		fmt.Fprintln(stdout)
		fmt.Fprintln(stdout, "Warnings:")
		for _, w := range warns {
			fmt.Fprintf(stdout, "%s: %s\n", w.name, w.msg)
		}
		fmt.Fprintln(stdout)
	}
	if len(errs) > 0 {
		fmt.Fprintln(stdout)
		fmt.Fprintln(stderr, "Failed to export the following channel(s):")
		for _, e := range errs {
			fmt.Fprintf(stderr, "%s: %s\n", e.name, e.msg)
		}
		fmt.Fprintln(stderr)
	}
	if len(errs) >= len(chans) {
		fmt.Fprintln(stderr, "Export failed.")
		return exitError
	}
	return exitOK
}

func defaultFileName(f found) string {
	parts := []string{f.guild.Name}
	if f.ch.Category != "" {
		parts = append(parts, f.ch.Category)
	}
	parts = append(parts, f.ch.Name)
	return strings.Join(parts, " - ") + " [" + f.ch.ID + "].json"
}

type document struct {
	st            *State
	f             found
	msgs          []Message
	after, before *string
}

func (d document) channelType() string {
	switch {
	case d.f.dm:
		return "DirectTextChat"
	case d.f.parent != nil:
		return "GuildPublicThread"
	case d.f.ch.Voice:
		return "GuildVoiceChat"
	case d.f.ch.Forum:
		return "GuildForum"
	}
	return "GuildTextChat"
}

// write streams the document into path, flushing after every message as
// DCE does, and obeys a kill fault.
func (d document) write(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	file, err := os.Create(path)
	if err != nil {
		return err
	}
	defer file.Close()
	w := bufio.NewWriter(file)
	flush := func() {
		_ = w.Flush()
		_ = file.Sync()
	}
	var killAfter = -1
	var sig syscall.Signal
	if fl := d.f.ch.Fault; fl != nil && fl.Signal != "" {
		killAfter = fl.KillAfter
		switch fl.Signal {
		case "KILL":
			sig = syscall.SIGKILL
		case "TERM":
			sig = syscall.SIGTERM
		case "INT":
			sig = syscall.SIGINT
		default:
			return fmt.Errorf("fault signal %q: want KILL, TERM or INT", fl.Signal)
		}
	}

	c := d.f.ch
	if c.ExportAs != "" {
		c.ID = c.ExportAs
	}
	categoryID, category := c.CategoryID, c.Category
	if d.f.parent != nil {
		categoryID, category = d.f.parent.ID, d.f.parent.Name
	}
	fmt.Fprintf(w, "{\n  \"guild\": {\n    \"id\": %s,\n    \"name\": %s,\n    \"iconUrl\": %s\n  },\n",
		jstr(d.f.guild.ID), jstr(d.f.guild.Name), jstr("https://cdn.discordapp.com/embed/avatars/0.png"))
	fmt.Fprintf(w, "  \"channel\": {\n    \"id\": %s,\n    \"type\": %s,\n    \"categoryId\": %s,\n    \"category\": %s,\n    \"name\": %s,\n    \"topic\": %s\n  },\n",
		jstr(c.ID), jstr(d.channelType()), jnull(categoryID), jnull(category), jstr(c.Name), jnull(c.Topic))
	fmt.Fprintf(w, "  \"dateRange\": {\n    \"after\": %s,\n    \"before\": %s\n  },\n", jptr(d.after), jptr(d.before))
	fmt.Fprintf(w, "  \"exportedAt\": %s,\n", jstr(formatDate(d.st.now())))
	if len(d.msgs) == 0 {
		fmt.Fprint(w, "  \"messages\": []")
	} else {
		fmt.Fprint(w, "  \"messages\": [")
	}
	flush()
	if killAfter == 0 {
		die(sig)
	}
	for i, m := range d.msgs {
		if i > 0 {
			fmt.Fprint(w, ",")
		}
		fmt.Fprint(w, "\n")
		writeMessage(w, m)
		flush()
		if i+1 == killAfter {
			die(sig)
		}
	}
	if len(d.msgs) > 0 {
		fmt.Fprint(w, "\n  ]")
	}
	fmt.Fprintf(w, ",\n  \"messageCount\": %d\n}", len(d.msgs))
	flush()
	return file.Close()
}

func writeMessage(w io.Writer, m Message) {
	id, _ := strconv.ParseUint(m.ID, 10, 64)
	ts := m.Timestamp
	if ts == "" {
		ts = formatDate(snowflakeTime(id))
	}
	authorID, authorName := m.AuthorID, m.AuthorName
	if authorID == "" {
		authorID = "42"
	}
	if authorName == "" {
		authorName = "someone"
	}
	fmt.Fprintf(w, "    {\n      \"id\": %s,\n      \"type\": \"Default\",\n      \"timestamp\": %s,\n      \"timestampEdited\": %s,\n      \"callEndedTimestamp\": null,\n      \"isPinned\": false,\n      \"content\": %s,\n",
		jstr(m.ID), jstr(ts), jnull(m.Edited), jstr(m.Content))
	fmt.Fprintf(w, "      \"author\": {\n        \"id\": %s,\n        \"name\": %s,\n        \"discriminator\": \"0000\",\n        \"nickname\": %s,\n        \"color\": null,\n        \"isBot\": false,\n        \"roles\": [],\n        \"avatarUrl\": %s\n      },\n",
		jstr(authorID), jstr(authorName), jstr(authorName), jstr("https://cdn.discordapp.com/embed/avatars/1.png"))
	fmt.Fprint(w, "      \"attachments\": [],\n      \"embeds\": [],\n      \"stickers\": [],\n      \"reactions\": [],\n      \"mentions\": [],\n      \"inlineEmojis\": []\n    }")
}

// jstr encodes s as System.Text.Json does with UnsafeRelaxedJsonEscaping:
// quotes, backslashes and control characters escaped, everything else
// (including non-ASCII) written as UTF-8.
func jstr(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < 0x20 || r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	b.WriteByte('"')
	return b.String()
}

func jnull(s string) string {
	if s == "" {
		return "null"
	}
	return jstr(s)
}

func jptr(s *string) string {
	if s == nil {
		return "null"
	}
	return jstr(*s)
}
