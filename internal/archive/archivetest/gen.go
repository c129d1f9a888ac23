// Package archivetest generates DiscordChatExporter JSON documents in
// DCE's exact layout (2-space indent, "\n" line ends, no trailing newline,
// DCE's key order), deterministic by seed, for tests and benchmarks. It
// streams, so documents of many GB take no memory.
package archivetest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"
)

// DiscordEpoch is the snowflake epoch in Unix milliseconds.
const DiscordEpoch = 1420070400000

// Snowflake returns a snowflake id for time t and a sequence number.
func Snowflake(t time.Time, seq uint64) uint64 {
	return uint64(t.UnixMilli()-DiscordEpoch)<<22 | seq&0x3FFFFF
}

// SnowflakeTime returns the time a snowflake was made.
func SnowflakeTime(id uint64) time.Time {
	return time.UnixMilli(int64(id>>22) + DiscordEpoch)
}

// Options describe a document.
type Options struct {
	Seed        uint64
	GuildID     uint64 // default 100000000000000001
	ChannelID   uint64 // default 200000000000000002
	GuildName   string // default "Test Guild"
	ChannelName string // default "general"

	// IDs are the message ids, in file order. When empty, Messages ids
	// are made, increasing from FirstID (default: a 2021 snowflake), or
	// messages are made until the document reaches Size bytes.
	IDs      []uint64
	Messages int
	Size     int64
	FirstID  uint64

	// After and Before are dateRange values; "" writes null.
	After, Before string
	// ExportedAt defaults to 2026-01-01T00:00:00+00:00.
	ExportedAt time.Time
	// UTCOffset (seconds east of UTC) for timestamps; 0 is +00:00.
	UTCOffset int

	// Variants of other tools.
	NoMessageCount bool // leave messageCount out
	CRLF           bool // "\r\n" line ends
}

// Stats describe a generated document.
type Stats struct {
	Messages int
	Bytes    int64
	FirstID  uint64
	LastID   uint64
	MaxID    uint64
}

type guild struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	IconURL string `json:"iconUrl"`
}

type channel struct {
	ID         string  `json:"id"`
	Type       string  `json:"type"`
	CategoryID string  `json:"categoryId"`
	Category   string  `json:"category"`
	Name       string  `json:"name"`
	Topic      *string `json:"topic"`
}

type role struct {
	ID       string  `json:"id"`
	Name     string  `json:"name"`
	Color    *string `json:"color"`
	Position int     `json:"position"`
}

type user struct {
	ID            string  `json:"id"`
	Name          string  `json:"name"`
	Discriminator string  `json:"discriminator"`
	Nickname      string  `json:"nickname"`
	Color         *string `json:"color"`
	IsBot         bool    `json:"isBot"`
	Roles         []role  `json:"roles"`
	AvatarURL     string  `json:"avatarUrl"`
}

type attachment struct {
	ID            string `json:"id"`
	URL           string `json:"url"`
	FileName      string `json:"fileName"`
	FileSizeBytes int    `json:"fileSizeBytes"`
}

type emoji struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Code       string `json:"code"`
	IsAnimated bool   `json:"isAnimated"`
	ImageURL   string `json:"imageUrl"`
}

type reaction struct {
	Emoji emoji  `json:"emoji"`
	Count int    `json:"count"`
	Users []user `json:"users"`
}

type reference struct {
	MessageID string `json:"messageId"`
	ChannelID string `json:"channelId"`
	GuildID   string `json:"guildId"`
}

type message struct {
	ID                 string       `json:"id"`
	Type               string       `json:"type"`
	Timestamp          string       `json:"timestamp"`
	TimestampEdited    *string      `json:"timestampEdited"`
	CallEndedTimestamp *string      `json:"callEndedTimestamp"`
	IsPinned           bool         `json:"isPinned"`
	Content            string       `json:"content"`
	Author             user         `json:"author"`
	Attachments        []attachment `json:"attachments"`
	Embeds             []any        `json:"embeds"`
	Stickers           []any        `json:"stickers"`
	Reactions          []reaction   `json:"reactions"`
	Mentions           []user       `json:"mentions"`
	Reference          *reference   `json:"reference,omitempty"`
	InlineEmojis       []any        `json:"inlineEmojis"`
}

var words = strings.Fields(`the a archive message discord channel export again tomorrow
hello world fine thanks 👍 🎉 café naïve 日本語 "quoted" back\slash tab	here
lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor
https://example.com/some/path?query=1&x=2 <html> @everyone :smile:`)

// Timestamp formats t like DCE: an explicit offset, a fraction only when
// it is not zero.
func Timestamp(t time.Time) string {
	return t.Format("2006-01-02T15:04:05.999-07:00")
}

// gen makes one document's pieces.
type gen struct {
	o   Options
	rng *rand.Rand
	loc *time.Location
	enc *json.Encoder
	buf bytes.Buffer
}

func newGen(o Options) *gen {
	if o.GuildID == 0 {
		o.GuildID = 100000000000000001
	}
	if o.ChannelID == 0 {
		o.ChannelID = 200000000000000002
	}
	if o.GuildName == "" {
		o.GuildName = "Test Guild"
	}
	if o.ChannelName == "" {
		o.ChannelName = "general"
	}
	if o.FirstID == 0 {
		o.FirstID = Snowflake(time.Date(2021, 7, 14, 21, 0, 0, 0, time.UTC), 0)
	}
	if o.ExportedAt.IsZero() {
		o.ExportedAt = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	g := &gen{o: o, rng: rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))}
	g.loc = time.FixedZone("", o.UTCOffset)
	g.enc = json.NewEncoder(&g.buf)
	g.enc.SetEscapeHTML(false)
	return g
}

// value encodes v with the given indent prefix, without the newline the
// encoder adds.
func (g *gen) value(v any, prefix string) []byte {
	g.buf.Reset()
	g.enc.SetIndent(prefix, "  ")
	if err := g.enc.Encode(v); err != nil {
		panic(fmt.Sprintf("archivetest: encode: %v", err)) // only fixed Go types are encoded
	}
	return bytes.TrimRight(g.buf.Bytes(), "\n")
}

func (g *gen) user(n int) user {
	id := 300000000000000000 + uint64(n)*7919
	u := user{
		ID: strconv.FormatUint(id, 10), Name: fmt.Sprintf("user%d", n), Discriminator: "0000",
		Nickname: fmt.Sprintf("User %d", n), Roles: []role{},
		AvatarURL: fmt.Sprintf("https://cdn.discordapp.com/embed/avatars/%d.png", n%5),
	}
	if n%3 == 0 {
		c := "#1F8B4C"
		u.Color = &c
		u.Roles = append(u.Roles, role{ID: strconv.FormatUint(id+1, 10), Name: "Member", Color: &c, Position: 1})
	}
	return u
}

func (g *gen) content() string {
	n := 3 + g.rng.IntN(60)
	var b strings.Builder
	for i := range n {
		if i > 0 {
			if g.rng.IntN(25) == 0 {
				b.WriteByte('\n')
			} else {
				b.WriteByte(' ')
			}
		}
		b.WriteString(words[g.rng.IntN(len(words))])
	}
	return b.String()
}

// Message returns message id in DCE's layout, indented for its place in
// the messages array (its first line without indent).
func (g *gen) message(id uint64) []byte {
	t := SnowflakeTime(id).In(g.loc)
	m := message{
		ID: strconv.FormatUint(id, 10), Type: "Default", Timestamp: Timestamp(t),
		Content: g.content(), Author: g.user(g.rng.IntN(40)),
		Attachments: []attachment{}, Embeds: []any{}, Stickers: []any{},
		Reactions: []reaction{}, Mentions: []user{}, InlineEmojis: []any{},
	}
	if g.rng.IntN(10) == 0 {
		e := Timestamp(t.Add(time.Duration(g.rng.IntN(3600)) * time.Second))
		m.TimestampEdited = &e
	}
	if g.rng.IntN(8) == 0 {
		m.Attachments = append(m.Attachments, attachment{
			ID: strconv.FormatUint(id+1, 10), FileName: "image.png", FileSizeBytes: 1000 + g.rng.IntN(100000),
			URL: fmt.Sprintf("https://cdn.discordapp.com/attachments/%d/%d/image.png", g.o.ChannelID, id+1),
		})
	}
	if g.rng.IntN(6) == 0 {
		m.Reactions = append(m.Reactions, reaction{
			Emoji: emoji{Name: "👍", Code: "thumbsup", ImageURL: "https://cdn.jsdelivr.net/gh/twitter/twemoji@latest/assets/svg/1f44d.svg"},
			Count: 1, Users: []user{g.user(g.rng.IntN(40))},
		})
	}
	if g.rng.IntN(7) == 0 {
		m.Mentions = append(m.Mentions, g.user(g.rng.IntN(40)))
	}
	if g.rng.IntN(9) == 0 && id > 1<<22 {
		m.Type = "Reply"
		m.Reference = &reference{MessageID: strconv.FormatUint(id-1<<22, 10), ChannelID: strconv.FormatUint(g.o.ChannelID, 10), GuildID: strconv.FormatUint(g.o.GuildID, 10)}
	}
	return g.value(m, "    ")
}

func (g *gen) head() []byte {
	var b bytes.Buffer
	topic := "a channel for tests"
	b.WriteString("{\n  \"guild\": ")
	b.Write(g.value(guild{ID: strconv.FormatUint(g.o.GuildID, 10), Name: g.o.GuildName, IconURL: "https://cdn.discordapp.com/embed/avatars/0.png"}, "  "))
	b.WriteString(",\n  \"channel\": ")
	b.Write(g.value(channel{ID: strconv.FormatUint(g.o.ChannelID, 10), Type: "GuildTextChat", CategoryID: "400000000000000004", Category: "Text Channels", Name: g.o.ChannelName, Topic: &topic}, "  "))
	str := func(s string) string {
		if s == "" {
			return "null"
		}
		return strconv.Quote(s)
	}
	fmt.Fprintf(&b, ",\n  \"dateRange\": {\n    \"after\": %s,\n    \"before\": %s\n  },\n  \"exportedAt\": %q,\n  \"messages\": [",
		str(g.o.After), str(g.o.Before), Timestamp(g.o.ExportedAt.In(g.loc)))
	return b.Bytes()
}

// countWriter counts bytes and turns "\n" into "\r\n" when crlf.
type countWriter struct {
	w    *bufio.Writer
	n    int64
	crlf bool
	err  error
}

func (c *countWriter) write(p []byte) {
	if c.err != nil {
		return
	}
	if c.crlf {
		p = bytes.ReplaceAll(p, []byte("\n"), []byte("\r\n"))
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.err = err
}

// Write streams a document to w.
func Write(w io.Writer, o Options) (Stats, error) {
	g := newGen(o)
	o = g.o
	cw := &countWriter{w: bufio.NewWriterSize(w, 1<<20), crlf: o.CRLF}
	cw.write(g.head())
	var st Stats
	emit := func(id uint64) {
		if st.Messages == 0 {
			cw.write([]byte("\n    "))
			st.FirstID = id
		} else {
			cw.write([]byte(",\n    "))
		}
		cw.write(g.message(id))
		st.Messages++
		st.LastID = id
		st.MaxID = max(st.MaxID, id)
	}
	switch {
	case len(o.IDs) > 0:
		for _, id := range o.IDs {
			emit(id)
		}
	default:
		id := o.FirstID
		for i := 0; ; i++ {
			if o.Size > 0 && cw.n >= o.Size || o.Size <= 0 && i >= o.Messages {
				break
			}
			emit(id)
			// 0.1 s to 2 min later, random sequence bits.
			step := uint64(100+g.rng.IntN(120000)) << 22
			id = (id &^ 0x3FFFFF) + step + uint64(g.rng.IntN(4096))
			if cw.err != nil {
				break
			}
		}
	}
	if st.Messages > 0 {
		cw.write([]byte("\n  ]"))
	} else {
		cw.write([]byte("]"))
	}
	if !o.NoMessageCount {
		cw.write([]byte(",\n  \"messageCount\": " + strconv.Itoa(st.Messages)))
	}
	cw.write([]byte("\n}"))
	if cw.err == nil {
		cw.err = cw.w.Flush()
	}
	st.Bytes = cw.n
	if cw.err != nil {
		return st, fmt.Errorf("archivetest: write: %w", cw.err)
	}
	return st, nil
}

// WriteFile writes a document to path (mode 0644).
func WriteFile(path string, o Options) (Stats, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return Stats{}, fmt.Errorf("archivetest: %w", err)
	}
	st, err := Write(f, o)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("archivetest: %w", cerr)
	}
	return st, err
}

// Bytes returns a document in memory (small documents, tests).
func Bytes(o Options) []byte {
	var b bytes.Buffer
	if _, err := Write(&b, o); err != nil {
		panic(err) // a bytes.Buffer does not fail
	}
	return b.Bytes()
}

// Next returns an id later than id, as the generator makes them.
func Next(id uint64) uint64 { return (id &^ 0x3FFFFF) + 1000<<22 }
