package engine

import (
	"encoding/binary"
	"net/http"
)

// packedHeader is an http.Header in one string: for each value, the
// name's length, the name, the value's length and the value, the lengths
// as uvarints. One allocation of the header's own size, where the map
// textproto makes costs about three times that and a dozen allocations.
type packedHeader string

// packHeader packs h; the order of names is the map's.
func packHeader(h http.Header) packedHeader {
	size := 0
	for k, vs := range h {
		size += len(vs) * (len(k) + 2*binary.MaxVarintLen16)
		for _, v := range vs {
			size += len(v)
		}
	}
	buf := make([]byte, 0, size)
	for k, vs := range h {
		for _, v := range vs {
			buf = binary.AppendUvarint(buf, uint64(len(k)))
			buf = append(buf, k...)
			buf = binary.AppendUvarint(buf, uint64(len(v)))
			buf = append(buf, v...)
		}
	}
	return packedHeader(buf)
}

// unpack returns the header as a fresh map. Its strings share p's memory.
func (p packedHeader) unpack() http.Header {
	h := http.Header{}
	s := string(p)
	for len(s) > 0 {
		var k, v string
		k, s = nextPacked(s)
		v, s = nextPacked(s)
		h[k] = append(h[k], v)
	}
	return h
}

// nextPacked splits the next length-prefixed string off s.
func nextPacked(s string) (string, string) {
	var n uint64
	for shift := 0; ; shift += 7 {
		if len(s) == 0 || shift > 63 {
			panic("engine: corrupt packed header") // only packHeader writes one
		}
		b := s[0]
		s = s[1:]
		n |= uint64(b&0x7f) << shift
		if b < 0x80 {
			break
		}
	}
	if uint64(len(s)) < n {
		panic("engine: corrupt packed header")
	}
	return s[:n], s[n:]
}
