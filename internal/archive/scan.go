package archive

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

const (
	initialBufSize = 256 << 10
	// maxBufSize bounds the scanner's buffer, and so the largest single
	// message or header value it accepts (DCE messages are a few KB).
	maxBufSize = 32 << 20
	// maxDepth bounds the nesting of JSON values.
	maxDepth = 10000
)

// errTooLarge: a single value does not fit the scanner's buffer.
var errTooLarge = errors.New("a single JSON value is larger than 32 MB")

// Header holds the document's values other than the messages. Raw values
// are copies of the bytes found in the file (nil when the key is absent).
type Header struct {
	Guild      []byte
	Channel    []byte
	DateRange  []byte
	ExportedAt []byte

	// ChannelID is channel.id ("" when absent).
	ChannelID string
	// After and Before are dateRange.after and dateRange.before (nil when
	// absent).
	After, Before []byte

	// MessageCount is the trailing messageCount, when HasMessageCount.
	MessageCount    int64
	HasMessageCount bool

	// Extra are root keys DCE does not write, in file order.
	Extra []Field

	// HasMessages reports that the "messages" key was seen.
	HasMessages bool
}

// Field is one root key and its raw value.
type Field struct {
	Key   string
	Value []byte
}

// Message is one element of the document's messages array.
type Message struct {
	ID    uint64
	Start int64  // file offset of the message's '{'
	End   int64  // file offset just after its '}'
	Raw   []byte // the message's bytes; valid until the next call of Next
}

type scanState int

const (
	stStart scanState = iota
	stRootFirst
	stRootKey
	stRootAfterValue
	stMsgFirst
	stMsg
	stMsgAfter
	stTail
	stDone
	stFailed
)

// Scanner reads a DCE JSON document from a stream and yields its messages
// one at a time, with their ids, offsets and raw bytes, without holding the
// document in memory. It checks the whole document against the JSON
// grammar (strings, escapes, numbers, literals, nesting).
//
// A document cut off anywhere (a partial export) ends with an error that
// wraps io.ErrUnexpectedEOF; Complete reports a document that was read to
// its end.
type Scanner struct {
	r    io.Reader
	buf  []byte
	base int64 // file offset of buf[0]
	pos  int
	end  int
	mark int // buf index to retain on refill; -1 for none
	eof  bool
	rerr error

	state    scanState
	hdr      Header
	msg      Message
	err      error
	stack    []byte
	rootKeys map[string]bool
	count    int
}

// NewScanner returns a scanner reading r from its current position, which
// is taken as offset 0.
func NewScanner(r io.Reader) *Scanner {
	return &Scanner{r: r, buf: make([]byte, initialBufSize), mark: -1, rootKeys: map[string]bool{}}
}

// Next advances to the next message; it returns false at the end of the
// document or on an error (see Err).
func (s *Scanner) Next() bool {
	for {
		switch s.state {
		case stStart:
			c, ok := s.peekNonSpace()
			if !ok {
				if s.end == 0 && s.base == 0 && s.rerr == nil {
					return s.fail(fmt.Errorf("empty document: %w", io.ErrUnexpectedEOF))
				}
				return s.fail(s.truncated())
			}
			if c != '{' {
				return s.fail(s.syntax("the document is not a JSON object"))
			}
			s.pos++
			s.state = stRootFirst
		case stRootFirst:
			c, ok := s.peekNonSpace()
			if !ok {
				return s.fail(s.truncated())
			}
			if c == '}' {
				s.pos++
				s.state = stTail
				continue
			}
			s.state = stRootKey
		case stRootKey:
			if err := s.rootValue(); err != nil {
				return s.fail(err)
			}
		case stRootAfterValue:
			c, ok := s.peekNonSpace()
			if !ok {
				return s.fail(s.truncated())
			}
			switch c {
			case ',':
				s.pos++
				s.state = stRootKey
			case '}':
				s.pos++
				s.state = stTail
			default:
				return s.fail(s.syntax("expected ',' or '}' after a root value"))
			}
		case stMsgFirst:
			c, ok := s.peekNonSpace()
			if !ok {
				return s.fail(s.truncated())
			}
			if c == ']' {
				s.pos++
				s.state = stRootAfterValue
				continue
			}
			s.state = stMsg
		case stMsg:
			if err := s.message(); err != nil {
				return s.fail(err)
			}
			s.count++
			s.state = stMsgAfter
			return true
		case stMsgAfter:
			c, ok := s.peekNonSpace()
			if !ok {
				return s.fail(s.truncated())
			}
			switch c {
			case ',':
				s.pos++
				s.state = stMsg
			case ']':
				s.pos++
				s.state = stRootAfterValue
			default:
				return s.fail(s.syntax("expected ',' or ']' after a message"))
			}
		case stTail:
			if _, ok := s.peekNonSpace(); ok {
				return s.fail(s.syntax("data after the end of the document"))
			}
			if s.rerr != nil {
				return s.fail(s.rerr)
			}
			s.state = stDone
			return false
		default:
			return false
		}
	}
}

// Message returns the current message (after Next returned true).
func (s *Scanner) Message() Message { return s.msg }

// Header returns the header values seen so far; complete once Next has
// returned false without an error.
func (s *Scanner) Header() *Header { return &s.hdr }

// Err returns the error that stopped the scan, nil at a clean end.
func (s *Scanner) Err() error { return s.err }

// Complete reports whether the whole document was read without error.
func (s *Scanner) Complete() bool { return s.state == stDone }

// Count returns the number of messages yielded so far.
func (s *Scanner) Count() int { return s.count }

// Offset returns the file offset the scanner has consumed up to.
func (s *Scanner) Offset() int64 { return s.base + int64(s.pos) }

func (s *Scanner) fail(err error) bool {
	s.err = err
	s.state = stFailed
	return false
}

func (s *Scanner) syntax(msg string) error {
	return fmt.Errorf("offset %d: %s", s.base+int64(s.pos), msg)
}

// truncated is the error for running out of input where more is required.
func (s *Scanner) truncated() error {
	if s.rerr != nil {
		return s.rerr
	}
	return fmt.Errorf("offset %d: document ends early: %w", s.base+int64(s.end), io.ErrUnexpectedEOF)
}

// fill reads more input, keeping the bytes from min(mark, pos) on. It
// reports whether bytes were added.
func (s *Scanner) fill() bool {
	if s.eof || s.rerr != nil {
		return false
	}
	// Make room only when less than half the buffer is free, so the bytes
	// kept are moved O(1) times per byte read.
	if len(s.buf)-s.end < len(s.buf)/2 {
		keep := s.pos
		if s.mark >= 0 && s.mark < keep {
			keep = s.mark
		}
		if keep > 0 {
			copy(s.buf, s.buf[keep:s.end])
			s.end -= keep
			s.pos -= keep
			if s.mark >= 0 {
				s.mark -= keep
			}
			s.base += int64(keep)
		}
		if len(s.buf)-s.end < len(s.buf)/2 {
			if len(s.buf) >= maxBufSize {
				if s.end == len(s.buf) {
					s.rerr = fmt.Errorf("offset %d: %w", s.base, errTooLarge)
					return false
				}
			} else {
				nb := make([]byte, 2*len(s.buf))
				copy(nb, s.buf[:s.end])
				s.buf = nb
			}
		}
	}
	for range 100 {
		n, err := s.r.Read(s.buf[s.end:])
		s.end += n
		if err == io.EOF {
			s.eof = true
		} else if err != nil {
			s.rerr = fmt.Errorf("read at offset %d: %w", s.base+int64(s.end), err)
		}
		if n > 0 {
			return true
		}
		if err != nil {
			return false
		}
	}
	s.rerr = fmt.Errorf("read at offset %d: %w", s.base+int64(s.end), io.ErrNoProgress)
	return false
}

// ensure makes n bytes available from pos; false at the end of input.
func (s *Scanner) ensure(n int) bool {
	for s.end-s.pos < n {
		if !s.fill() {
			return false
		}
	}
	return true
}

var isSpace = [256]bool{' ': true, '\t': true, '\n': true, '\r': true}

// strPlain marks bytes that stand for themselves inside a JSON string.
var strPlain = func() (t [256]bool) {
	for i := 0x20; i < 256; i++ {
		t[i] = i != '"' && i != '\\'
	}
	return t
}()

// peekNonSpace skips whitespace and returns the next byte without
// consuming it; false at the end of input.
func (s *Scanner) peekNonSpace() (byte, bool) {
	for {
		buf := s.buf[:s.end]
		i := skipSpaces(buf, s.pos)
		s.pos = i
		if i < len(buf) {
			return buf[i], true
		}
		if !s.fill() {
			return 0, false
		}
	}
}

// peekByte returns the next byte without skipping whitespace.
func (s *Scanner) peekByte() (byte, bool) {
	if s.pos < s.end || s.fill() {
		return s.buf[s.pos], true
	}
	return 0, false
}

// skipString consumes a string; pos is at its opening quote.
func (s *Scanner) skipString() error {
	s.pos++
	for {
		buf := s.buf[:s.end]
		i := plainRun(buf, s.pos)
		s.pos = i
		if i == len(buf) {
			if !s.fill() {
				return s.truncated()
			}
			continue
		}
		switch c := buf[i]; c {
		case '"':
			s.pos++
			return nil
		case '\\':
			if !s.ensure(2) {
				return s.truncated()
			}
			switch s.buf[s.pos+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.pos += 2
			case 'u':
				if !s.ensure(6) {
					return s.truncated()
				}
				for _, h := range s.buf[s.pos+2 : s.pos+6] {
					if !isHex(h) {
						return s.syntax("invalid \\u escape in a string")
					}
				}
				s.pos += 6
			default:
				return s.syntax("invalid escape in a string")
			}
		default:
			return s.syntax("control character in a string")
		}
	}
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// skipNumber consumes a number per the JSON grammar.
func (s *Scanner) skipNumber() error {
	c, ok := s.peekByte()
	if ok && c == '-' {
		s.pos++
		c, ok = s.peekByte()
	}
	if !ok {
		return s.truncated()
	}
	switch {
	case c == '0':
		s.pos++
	case '1' <= c && c <= '9':
		s.skipDigits()
	default:
		return s.syntax("invalid number")
	}
	if c, ok := s.peekByte(); ok && c == '.' {
		s.pos++
		if c, ok := s.peekByte(); !ok {
			return s.truncated()
		} else if !isDigit(c) {
			return s.syntax("invalid number: no digit after '.'")
		}
		s.skipDigits()
	}
	if c, ok := s.peekByte(); ok && (c == 'e' || c == 'E') {
		s.pos++
		c, ok := s.peekByte()
		if ok && (c == '+' || c == '-') {
			s.pos++
			c, ok = s.peekByte()
		}
		if !ok {
			return s.truncated()
		}
		if !isDigit(c) {
			return s.syntax("invalid number: no digit in the exponent")
		}
		s.skipDigits()
	}
	return nil
}

func (s *Scanner) skipDigits() {
	for {
		c, ok := s.peekByte()
		if !ok || !isDigit(c) {
			return
		}
		s.pos++
	}
}

func (s *Scanner) skipLiteral(lit string) error {
	if !s.ensure(len(lit)) {
		// Compare what there is, so a wrong prefix is a syntax error.
		rest := s.buf[s.pos:s.end]
		if string(rest) != lit[:len(rest)] {
			return s.syntax("invalid literal")
		}
		return s.truncated()
	}
	if string(s.buf[s.pos:s.pos+len(lit)]) != lit {
		return s.syntax("invalid literal")
	}
	s.pos += len(lit)
	return nil
}

// objectKey consumes `"key" :` at pos (after whitespace).
func (s *Scanner) objectKey() error {
	c, ok := s.peekNonSpace()
	if !ok {
		return s.truncated()
	}
	if c != '"' {
		return s.syntax("expected a string key")
	}
	if err := s.skipString(); err != nil {
		return err
	}
	return s.colon()
}

func (s *Scanner) colon() error {
	c, ok := s.peekNonSpace()
	if !ok {
		return s.truncated()
	}
	if c != ':' {
		return s.syntax("expected ':' after a key")
	}
	s.pos++
	return nil
}

// skipValue consumes one JSON value, checking its grammar.
func (s *Scanner) skipValue() error {
	_, _, err := s.walk(false)
	return err
}

// Parser states of walk.
const (
	wValue        = iota // a value
	wValueOrClose        // a value or ']' (after '[')
	wKeyOrClose          // a key or '}' (after '{')
	wKey                 // a key (after ',' in an object)
	wColon               // ':' after a key
	wAfter               // ',' or a closer after a value
)

// walk consumes one JSON value in one tight loop over the buffer, checking
// its grammar. With findID, the value must be an object; the file offsets
// of its top-level "id" value are returned (idStart < 0 when absent).
func (s *Scanner) walk(findID bool) (idStart, idEnd int64, err error) {
	stack := s.stack[:0]
	defer func() { s.stack = stack[:0] }()
	state := wValue
	idStart, idEnd = -1, -1
	wantID := false // the value being read is the top-level "id"
	var keyStart int64
	buf, i := s.buf[:s.end], s.pos
	reload := func() { buf, i = s.buf[:s.end], s.pos }
	for {
		if state == wAfter && len(stack) == 0 {
			s.pos = i
			return idStart, idEnd, nil
		}
		if i >= len(buf) {
			s.pos = i
			if !s.fill() {
				return 0, 0, s.truncated()
			}
			reload()
			continue
		}
		c := buf[i]
		if isSpace[c] {
			i = skipSpaces(buf, i+1)
			continue
		}
		switch state {
		case wValue, wValueOrClose:
			if c == ']' && state == wValueOrClose {
				i++
				stack = stack[:len(stack)-1]
				state = wAfter
				continue
			}
			if findID && len(stack) == 0 && c != '{' {
				s.pos = i
				return 0, 0, s.syntax("a message is not an object")
			}
			start := s.base + int64(i)
			switch {
			case c == '{' || c == '[':
				if len(stack) >= maxDepth {
					s.pos = i
					return 0, 0, s.syntax("values nested too deeply")
				}
				i++
				if c == '{' {
					stack = append(stack, '}')
					state = wKeyOrClose
				} else {
					stack = append(stack, ']')
					state = wValueOrClose
				}
				continue
			case c == '"':
				j := plainRun(buf, i+1)
				if j < len(buf) && buf[j] == '"' {
					i = j + 1
				} else {
					s.pos = i
					if err := s.skipString(); err != nil {
						return 0, 0, err
					}
					reload()
				}
			case c == 'n' && i+4 <= len(buf) && string(buf[i:i+4]) == "null":
				i += 4
			case c == 'f' && i+5 <= len(buf) && string(buf[i:i+5]) == "false":
				i += 5
			case c == 't' && i+4 <= len(buf) && string(buf[i:i+4]) == "true":
				i += 4
			case c == 't' || c == 'f' || c == 'n':
				s.pos = i
				lit := map[byte]string{'t': "true", 'f': "false", 'n': "null"}[c]
				if err := s.skipLiteral(lit); err != nil {
					return 0, 0, err
				}
				reload()
			case '1' <= c && c <= '9':
				j := i + 1
				for j < len(buf) && isDigit(buf[j]) {
					j++
				}
				if j < len(buf) && buf[j] != '.' && buf[j] != 'e' && buf[j] != 'E' {
					i = j
					break
				}
				fallthrough
			case c == '-' || c == '0':
				s.pos = i
				if err := s.skipNumber(); err != nil {
					return 0, 0, err
				}
				reload()
			default:
				s.pos = i
				return 0, 0, s.syntax("invalid character at the start of a value")
			}
			if wantID {
				idStart, idEnd = start, s.base+int64(i)
				wantID = false
			}
			state = wAfter
		case wKeyOrClose, wKey:
			if c == '}' && state == wKeyOrClose {
				i++
				stack = stack[:len(stack)-1]
				state = wAfter
				continue
			}
			if c != '"' {
				s.pos = i
				return 0, 0, s.syntax("expected a string key")
			}
			keyStart = s.base + int64(i)
			j := plainRun(buf, i+1)
			if j < len(buf) && buf[j] == '"' {
				i = j + 1
			} else {
				s.pos = i
				if err := s.skipString(); err != nil {
					return 0, 0, err
				}
				reload()
			}
			if findID && len(stack) == 1 {
				key := buf[int(keyStart-s.base)+1 : i-1]
				isID := len(key) == 2 && key[0] == 'i' && key[1] == 'd'
				if !isID && len(key) > 2 && len(key) < 16 && bytes.IndexByte(key, '\\') >= 0 {
					k, err := decodeKey(key)
					if err != nil {
						s.pos = i
						return 0, 0, s.syntax("invalid key")
					}
					isID = k == "id"
				}
				if isID {
					if idStart >= 0 {
						s.pos = i
						return 0, 0, s.syntax("a message has two ids")
					}
					wantID = true
				}
			}
			state = wColon
		case wColon:
			if c != ':' {
				s.pos = i
				return 0, 0, s.syntax("expected ':' after a key")
			}
			i++
			state = wValue
		case wAfter:
			top := stack[len(stack)-1]
			switch {
			case c == ',':
				i++
				if top == '}' {
					state = wKey
				} else {
					state = wValue
				}
			case c == top:
				i++
				stack = stack[:len(stack)-1]
			default:
				s.pos = i
				return 0, 0, s.syntax(fmt.Sprintf("expected ',' or '%c'", top))
			}
		}
	}
}

// capture consumes one value and returns a copy of its bytes.
func (s *Scanner) capture() ([]byte, error) {
	if _, ok := s.peekNonSpace(); !ok {
		return nil, s.truncated()
	}
	start := s.base + int64(s.pos)
	own := s.mark < 0 // else an enclosing mark already keeps these bytes
	if own {
		s.mark = s.pos
	}
	err := s.skipValue()
	if own {
		s.mark = -1
	}
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), s.buf[int(start-s.base):s.pos]...), nil
}

// readString consumes a string at pos (after whitespace) and returns its
// raw contents (between the quotes, escapes not decoded), valid until the
// next refill.
func (s *Scanner) readString() ([]byte, error) {
	start := s.base + int64(s.pos)
	own := s.mark < 0 // else an enclosing mark already keeps these bytes
	if own {
		s.mark = s.pos
	}
	err := s.skipString()
	if own {
		s.mark = -1
	}
	if err != nil {
		return nil, err
	}
	return s.buf[int(start-s.base)+1 : s.pos-1], nil
}

// decodeKey turns a key's raw contents into a string.
func decodeKey(raw []byte) (string, error) {
	for _, c := range raw {
		if c == '\\' {
			var k string
			if err := json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &k); err != nil {
				return "", err
			}
			return k, nil
		}
	}
	return string(raw), nil
}

// rootValue reads one `"key": value` of the root object.
func (s *Scanner) rootValue() error {
	c, ok := s.peekNonSpace()
	if !ok {
		return s.truncated()
	}
	if c != '"' {
		return s.syntax("expected a string key in the root object")
	}
	raw, err := s.readString()
	if err != nil {
		return err
	}
	key, err := decodeKey(raw)
	if err != nil {
		return s.syntax("invalid key")
	}
	if s.rootKeys[key] {
		return s.syntax(fmt.Sprintf("duplicate root key %q", key))
	}
	s.rootKeys[key] = true
	if err := s.colon(); err != nil {
		return err
	}
	s.state = stRootAfterValue
	switch key {
	case "messages":
		c, ok := s.peekNonSpace()
		if !ok {
			return s.truncated()
		}
		if c != '[' {
			return s.syntax(`"messages" is not an array`)
		}
		s.pos++
		s.hdr.HasMessages = true
		s.state = stMsgFirst
		return nil
	case "messageCount":
		v, err := s.capture()
		if err != nil {
			return err
		}
		n, perr := strconv.ParseInt(string(v), 10, 64)
		if perr != nil || n < 0 {
			return fmt.Errorf("messageCount %s is not a non-negative integer", v)
		}
		s.hdr.MessageCount, s.hdr.HasMessageCount = n, true
		return nil
	}
	v, err := s.capture()
	if err != nil {
		return err
	}
	switch key {
	case "guild":
		s.hdr.Guild = v
	case "channel":
		s.hdr.Channel = v
		var ch struct {
			ID json.RawMessage `json:"id"`
		}
		if err := json.Unmarshal(v, &ch); err != nil {
			return fmt.Errorf(`"channel" is not an object: %w`, err)
		}
		if len(ch.ID) > 0 {
			id, err := parseIDValue(ch.ID)
			if err != nil {
				return fmt.Errorf("channel.id %s: %w", ch.ID, err)
			}
			s.hdr.ChannelID = strconv.FormatUint(id, 10)
		}
	case "dateRange":
		s.hdr.DateRange = v
		var dr map[string]json.RawMessage
		if err := json.Unmarshal(v, &dr); err != nil {
			return fmt.Errorf(`"dateRange" is not an object: %w`, err)
		}
		s.hdr.After, s.hdr.Before = dr["after"], dr["before"]
	case "exportedAt":
		s.hdr.ExportedAt = v
	default:
		s.hdr.Extra = append(s.hdr.Extra, Field{Key: key, Value: v})
	}
	return nil
}

// message reads one message object, finding its top-level "id".
func (s *Scanner) message() error {
	c, ok := s.peekNonSpace()
	if !ok {
		return s.truncated()
	}
	if c != '{' {
		return s.syntax("a message is not an object")
	}
	s.mark = s.pos
	defer func() { s.mark = -1 }()
	start := s.base + int64(s.pos)
	idStart, idEnd, err := s.walk(true)
	if err != nil {
		return err
	}
	if idStart < 0 {
		return fmt.Errorf("offset %d: a message has no id", start)
	}
	v := s.buf[int(idStart-s.base):int(idEnd-s.base)]
	id, err := parseIDValue(v)
	if err != nil {
		return fmt.Errorf("offset %d: message id %.40s: %w", idStart, v, err)
	}
	s.msg = Message{ID: id, Start: start, End: s.base + int64(s.pos), Raw: s.buf[s.mark:s.pos]}
	return nil
}

// errNotSnowflake: an id that is not a positive 64-bit decimal integer.
var errNotSnowflake = errors.New("not a snowflake (a positive 64-bit integer, as a string of digits)")

// parseIDValue parses an id given as a JSON string of digits or a JSON
// integer.
func parseIDValue(v []byte) (uint64, error) {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	return parseSnowflake(v)
}

func parseSnowflake(v []byte) (uint64, error) {
	if len(v) == 0 || len(v) > 20 {
		return 0, errNotSnowflake
	}
	var n uint64
	for _, c := range v {
		if !isDigit(c) {
			return 0, errNotSnowflake
		}
		d := uint64(c - '0')
		if n > (^uint64(0)-d)/10 {
			return 0, errNotSnowflake
		}
		n = n*10 + d
	}
	if n == 0 {
		return 0, errNotSnowflake
	}
	return n, nil
}

// ParseID parses a snowflake given as a decimal string.
func ParseID(s string) (uint64, error) {
	id, err := parseSnowflake([]byte(s))
	if err != nil {
		return 0, fmt.Errorf("id %q: %w", s, err)
	}
	return id, nil
}

const (
	ones   = 0x0101010101010101
	highs  = 0x8080808080808080
	spaces = 0x2020202020202020
)

// skipSpaces returns the index of the first non-whitespace byte of buf at
// or after i (len(buf) when none); runs of spaces go 8 bytes at a time.
func skipSpaces(buf []byte, i int) int {
	for {
		for i+8 <= len(buf) && binary.LittleEndian.Uint64(buf[i:]) == spaces {
			i += 8
		}
		if i < len(buf) && isSpace[buf[i]] {
			i++
			continue
		}
		return i
	}
}

// plainRun returns the index of the first byte of buf at or after i that
// ends a run of plain string bytes (a quote, a backslash or a control
// character; len(buf) when none), 8 bytes at a time.
func plainRun(buf []byte, i int) int {
	for i+8 <= len(buf) {
		v := binary.LittleEndian.Uint64(buf[i:])
		q := v ^ (ones * '"')
		b := v ^ (ones * '\\')
		if ((q-ones)&^q|(b-ones)&^b|(v-ones*0x20)&^v)&highs != 0 {
			break
		}
		i += 8
	}
	for i < len(buf) && strPlain[buf[i]] {
		i++
	}
	return i
}
