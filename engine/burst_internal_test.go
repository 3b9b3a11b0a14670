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

func TestBufferedFrame(t *testing.T) {
	const text, binary, ping, pong, fragment = 0x81, 0x82, 0x89, 0x8a, 0x01
	long := strings.Repeat("x", 200)
	tests := []struct {
		name     string
		buffered []byte
		want     int
	}{
		{"nothing", nil, frameMore},
		{"one byte of a header", clientFrame(text, "hi")[:1], frameMore},
		{"a whole text frame", clientFrame(text, "hi"), frameMessage},
		{"a whole binary frame", clientFrame(binary, "\x00\x01"), frameMessage},
		{"an empty message", clientFrame(text, ""), frameMessage},
		{"the mask key cut", clientFrame(text, "hi")[:4], frameMore},
		{"the payload cut", clientFrame(text, "hello")[:8], frameMore},
		{"a 16-bit length, whole", clientFrame(text, long), frameMessage},
		{"a 16-bit length, cut", clientFrame(text, long)[:100], frameMore},
		{"a 16-bit length, header cut", clientFrame(text, long)[:3], frameMore},
		{"a 16-bit length, longer than the buffer", clientFrame(text, strings.Repeat("z", 600))[:100], frameOther},
		{"a 64-bit length, header cut", clientFrame(text, strings.Repeat("y", 70000))[:9], frameMore},
		{"a 64-bit length", clientFrame(text, strings.Repeat("y", 70000))[:12], frameOther},
		{"a ping", clientFrame(ping, ""), frameOther},
		{"the start of a ping", clientFrame(ping, "")[:1], frameMore},
		{"a first fragment", clientFrame(fragment, "part"), frameOther},
		{"a pong", clientFrame(pong, "p"), framePong},
		{"a pong cut", clientFrame(pong, "payload")[:7], frameMore},
		{"an unmasked pong", []byte{pong, 1, 'p'}, frameOther},
		{"a pong without its final bit", clientFrame(0x0a, "p"), frameOther},
		{"unmasked, whole", []byte{text, 2, 'h', 'i'}, frameMessage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			br := bufio.NewReaderSize(bytes.NewReader(tt.buffered), 512)
			_, _ = br.Peek(min(len(tt.buffered), 512)) // fill the buffer as a read would
			c := &Conn{br: br}
			if got, _, _ := c.bufferedFrame(); got != tt.want {
				t.Errorf("bufferedFrame() = %d, want %d", got, tt.want)
			}
			if got, want := c.messageBuffered(), tt.want == frameMessage; got != want {
				t.Errorf("messageBuffered() = %v, want %v", got, want)
			}
		})
	}
	if (&Conn{}).messageBuffered() {
		t.Error("messageBuffered() = true without a read buffer")
	}
}
