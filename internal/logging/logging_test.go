package logging

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/dcehost/dcehost/internal/token"
)

func TestLoggerRedactsAndFormats(t *testing.T) {
	for _, format := range []Format{Text, JSON} {
		t.Run(string(format), func(t *testing.T) {
			var r token.Redactor
			r.Add("Nzk5.super.secret")
			var buf bytes.Buffer
			log := New(&buf, format, false, &r)
			log.Info("starting", "token", "Nzk5.super.secret", "err", "bad Nzk5.super.secret here")
			log.Debug("hidden")
			out := buf.String()
			if strings.Contains(out, "Nzk5.super.secret") {
				t.Fatalf("token leaked: %s", out)
			}
			if !strings.Contains(out, token.Mask) {
				t.Fatalf("mask missing: %s", out)
			}
			if strings.Contains(out, "hidden") {
				t.Fatalf("debug record printed without verbose: %s", out)
			}
			if format == JSON {
				var m map[string]any
				if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
					t.Fatalf("not JSON: %v: %s", err, out)
				}
			}
		})
	}
}

func TestParseFormat(t *testing.T) {
	for _, s := range []string{"text", "json"} {
		if _, err := ParseFormat(s); err != nil {
			t.Errorf("ParseFormat(%q): %v", s, err)
		}
	}
	for _, s := range []string{"", "yaml", "JSON"} {
		if _, err := ParseFormat(s); err == nil {
			t.Errorf("ParseFormat(%q) accepted", s)
		}
	}
}
