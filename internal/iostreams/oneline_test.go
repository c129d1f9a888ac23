package iostreams

import "testing"

func TestOneLine(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain #général", "plain #général"},
		{"a\nb\r\nc", "a b  c"},
		{"red \x1b[31mtext\x7f", "red  [31mtext "},
		{"tab\there", "tab here"},
	}
	for _, tt := range tests {
		if got := OneLine(tt.in); got != tt.want {
			t.Errorf("OneLine(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
