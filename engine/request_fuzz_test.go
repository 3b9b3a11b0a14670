package engine

import (
	"bufio"
	"bytes"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// FuzzHandshakeRequest reads arbitrary bytes as an upgrade request, as
// net/http would hand it to a mount, and checks what the engine makes of
// it: checkUpgrade never panics and refuses with a 4xx; the Request a
// connection keeps gives back exactly the headers and query it was made
// from, in no more memory than the header itself; the subprotocols
// offered are tokens, never empty and never holding a comma or a space.
func FuzzHandshakeRequest(f *testing.F) {
	upgrade := "GET /ws?a=1&b=%20x HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	for _, seed := range []string{
		upgrade + "\r\n",
		upgrade + "Sec-WebSocket-Protocol: chat, , superchat,,\r\n\r\n",
		upgrade + "Sec-WebSocket-Protocol: \r\nSec-WebSocket-Protocol: a b\r\n\r\n",
		upgrade + "X-Big: " + strings.Repeat("v", 70000) + "\r\n\r\n",
		upgrade + "Cookie: a=1\r\nCookie: b=2\r\nX-Odd: \x80\xff\r\n\r\n",
		"GET /ws?%zz=1&;=;&a=%00 HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Upgrade\r\nUpgrade: WebSocket\r\n\r\n",
		"POST /ws HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
		"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 8\r\n\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil {
			return // net/http answers 400 itself
		}
		if herr := checkUpgrade(r); herr != nil && (herr.Status < 400 || herr.Status > 499) {
			t.Fatalf("checkUpgrade: status %d, want a 4xx", herr.Status)
		}
		req := newRequest(r)
		if got := req.Header(); !reflect.DeepEqual(got, r.Header) && !(len(got) == 0 && len(r.Header) == 0) {
			t.Fatalf("kept header %q, want %q", got, r.Header)
		}
		if got, want := req.Query().Encode(), r.URL.Query().Encode(); got != want {
			t.Fatalf("kept query %q, want %q", got, want)
		}
		size := 0
		for k, vs := range r.Header {
			for _, v := range vs {
				size += len(k) + len(v) + 2*3 // two varint lengths of at most 3 bytes below 2 MiB
			}
		}
		if len(req.header) > size {
			t.Fatalf("kept %d bytes of header, more than the %d it holds", len(req.header), size)
		}
		for _, p := range req.Subprotocols {
			if p == "" || strings.ContainsAny(p, ", \t") {
				t.Fatalf("subprotocol %q offered: want a token", p)
			}
		}
	})
}
