package iostreams

import "strings"

// OneLine makes text from outside (channel names, command lines, error
// messages) safe to print on one line of a terminal or a table: every
// control character (newline, carriage return, escape, ...) becomes a
// space, so it can neither break the line nor move the cursor.
func OneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
