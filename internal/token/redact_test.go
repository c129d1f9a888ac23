package token

import (
	"bytes"
	"testing"
)

func TestRedactor(t *testing.T) {
	tests := []struct {
		name    string
		secrets []string
		in      string
		want    string
	}{
		{"none registered", nil, "abc.def.ghi", "abc.def.ghi"},
		{"single", []string{"MTIz.secret.tok"}, "token=MTIz.secret.tok end", "token=*** end"},
		{"twice", []string{"MTIz.secret.tok"}, "MTIz.secret.tok MTIz.secret.tok", "*** ***"},
		{"overlapping longest first", []string{"abcd", "abcdefgh"}, "x abcdefgh y abcd", "x *** y ***"},
		{"short ignored", []string{"ab"}, "ab cd", "ab cd"},
		{"trimmed", []string{" tok-value\n"}, "tok-value", "***"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Redactor
			for _, s := range tt.secrets {
				r.Add(s)
			}
			if got := r.Redact(tt.in); got != tt.want {
				t.Fatalf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
			}
			var buf bytes.Buffer
			n, err := r.Writer(&buf).Write([]byte(tt.in))
			if err != nil || n != len(tt.in) {
				t.Fatalf("Write = %d, %v", n, err)
			}
			if buf.String() != tt.want {
				t.Fatalf("Writer wrote %q, want %q", buf.String(), tt.want)
			}
		})
	}
}

func TestNilRedactor(t *testing.T) {
	var r *Redactor
	if got := r.Redact("x"); got != "x" {
		t.Fatalf("nil Redact = %q", got)
	}
}
