package result

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClip(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		want string
	}{
		{"short enough", "AccessDenied", 12, "AccessDenied"},
		{"cut with a mark", "AccessDeniedException", 12, "AccessDen..."},
		{"never inside a rune", "Zugriff verweigert für München", 24, "Zugriff verweigert f..."},
		{"a multi-byte rune at the cut", strings.Repeat("é", 10), 10, "ééé..."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Clip(tt.in, tt.max)
			if got != tt.want {
				t.Errorf("Clip(%q, %d): got %q; want %q", tt.in, tt.max, got, tt.want)
			}
			if len(got) > tt.max || !utf8.ValidString(got) {
				t.Errorf("Clip(%q, %d) = %q: %d bytes, valid UTF-8 %v; want at most %d bytes of valid UTF-8", tt.in, tt.max, got, len(got), utf8.ValidString(got), tt.max)
			}
		})
	}
}
