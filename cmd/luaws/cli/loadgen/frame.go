package loadgen

import (
	"encoding/binary"
	"strconv"
	"strings"
)

// minJSONSize is the shortest JSON payload: {"text":""}.
const minJSONSize = len(`{"text":""}`)

// makePayload returns an echo message of exactly size bytes.
func makePayload(kind string, size int) []byte {
	const text = "the quick brown fox jumps over the lazy dog. "
	fill := func(n int) string {
		return strings.Repeat(text, n/len(text)+1)[:n]
	}
	if kind != PayloadJSON {
		return []byte(fill(size))
	}
	// A chat-like message: {"type":"msg","room":"lobby","text":"..."},
	// or just {"text":"..."} when size is too small for it.
	head, tail := `{"type":"msg","room":"lobby","text":"`, `"}`
	if size < len(head)+len(tail) {
		head = `{"text":"`
	}
	return []byte(head + fill(size-len(head)-len(tail)) + tail)
}

// broadcastMessage returns what the publisher sends for message seq: the
// inner object is about size bytes.
func broadcastMessage(seq uint64, size int) []byte {
	b := make([]byte, 0, size+32)
	b = append(b, `{"broadcast":{"seq":`...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, `,"pad":"`...)
	pad := size - len(`{"seq":,"pad":""}`) - 8
	for i := 0; i < pad; i++ {
		b = append(b, 'a'+byte(i%26))
	}
	return append(b, `"}}`...)
}

// parseSeq finds "seq":N in a broadcast delivery.
func parseSeq(b []byte) (uint64, bool) {
	const key = `"seq":`
	i := strings.Index(string(b), key) // no copy: the compiler elides it
	if i < 0 {
		return 0, false
	}
	var n uint64
	j := i + len(key)
	start := j
	for j < len(b) && b[j] >= '0' && b[j] <= '9' {
		n = n*10 + uint64(b[j]-'0')
		j++
	}
	return n, j > start
}

// appendClientFrame appends one final, masked client frame (RFC 6455
// section 5.2) with the given opcode and payload.
func appendClientFrame(dst []byte, opcode byte, payload []byte, key [4]byte) []byte {
	dst = append(dst, 0x80|opcode)
	switch n := len(payload); {
	case n <= 125:
		dst = append(dst, 0x80|byte(n))
	case n <= 0xffff:
		dst = append(dst, 0x80|126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, 0x80|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	dst = append(dst, key[:]...)
	for i, b := range payload {
		dst = append(dst, b^key[i&3])
	}
	return dst
}
