package engine

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
)

// clientFrame is one masked frame as a client sends it (zero mask key).
func clientFrame(b0 byte, payload string) []byte {
	var f []byte
	switch n := len(payload); {
	case n < 126:
		f = []byte{b0, 0x80 | byte(n)}
	case n < 1<<16:
		f = []byte{b0, 0x80 | 126, byte(n >> 8), byte(n)}
	default:
		f = []byte{b0, 0x80 | 127, 0, 0, 0, 0, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
	}
	f = append(f, 0, 0, 0, 0)
	return append(f, payload...)
}

func TestMessageBuffered(t *testing.T) {
	const text, binary, ping, fragment = 0x81, 0x82, 0x89, 0x01
	long := strings.Repeat("x", 200)
	tests := []struct {
		name     string
		buffered []byte
		want     bool
	}{
		{"nothing", nil, false},
		{"one byte of a header", clientFrame(text, "hi")[:1], false},
		{"a whole text frame", clientFrame(text, "hi"), true},
		{"a whole binary frame", clientFrame(binary, "\x00\x01"), true},
		{"an empty message", clientFrame(text, ""), true},
		{"the mask key cut", clientFrame(text, "hi")[:4], false},
		{"the payload cut", clientFrame(text, "hello")[:8], false},
		{"a 16-bit length, whole", clientFrame(text, long), true},
		{"a 16-bit length, cut", clientFrame(text, long)[:100], false},
		{"a 16-bit length, header cut", clientFrame(text, long)[:3], false},
		{"a 64-bit length, header cut", clientFrame(text, strings.Repeat("y", 70000))[:12], false},
		{"a ping", clientFrame(ping, ""), false},
		{"a first fragment", clientFrame(fragment, "part"), false},
		{"unmasked, whole", []byte{text, 2, 'h', 'i'}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			br := bufio.NewReaderSize(bytes.NewReader(tt.buffered), 512)
			_, _ = br.Peek(min(len(tt.buffered), 512)) // fill the buffer as a read would
			c := &Conn{br: br}
			if got := c.messageBuffered(); got != tt.want {
				t.Errorf("messageBuffered() = %v, want %v", got, tt.want)
			}
		})
	}
	if (&Conn{}).messageBuffered() {
		t.Error("messageBuffered() = true without a read buffer")
	}
}
