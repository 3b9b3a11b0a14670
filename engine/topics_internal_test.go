package engine

import (
	"bytes"
	"testing"

	"github.com/gorilla/websocket"
)

func TestBrokerSubject(t *testing.T) {
	cases := []struct{ path, want string }{
		{"/ws", "mount/ws"},
		{"/rooms/", "mount/rooms/"},
		{"/a.b c*>", "mount/a%2Eb%20c%2A%3E"},
		{"/ünï", "mount/%C3%BCn%C3%AF"},
	}
	for _, tc := range cases {
		if got := brokerSubject(tc.path); got != tc.want {
			t.Errorf("brokerSubject(%q): got %q, want %q", tc.path, got, tc.want)
		}
	}
}

func TestEnvelopeRoundTrip(t *testing.T) {
	cases := []envelope{
		{node: 1, kind: kindPublish, messageType: websocket.TextMessage, topic: "room", data: []byte(`{"a":1}`)},
		{node: 1<<64 - 1, kind: kindBroadcast, messageType: websocket.BinaryMessage, data: []byte{0, 1, 2}},
		{node: 7, kind: kindPublish, messageType: websocket.TextMessage, topic: "t", data: []byte{}},
	}
	for _, want := range cases {
		b := appendEnvelope(nil, want.node, want.kind, want.topic, want.messageType, want.data)
		got, err := parseEnvelope(b)
		if err != nil {
			t.Fatalf("parse %+v: %v", want, err)
		}
		if got.node != want.node || got.kind != want.kind || got.messageType != want.messageType ||
			got.topic != want.topic || !bytes.Equal(got.data, want.data) {
			t.Fatalf("got %+v, want %+v", got, want)
		}
	}
}

func FuzzParseEnvelope(f *testing.F) {
	f.Add(appendEnvelope(nil, 3, kindPublish, "news", websocket.TextMessage, []byte("hi")))
	f.Add(appendEnvelope(nil, 3, kindBroadcast, "", websocket.BinaryMessage, nil))
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{2})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := parseEnvelope(b)
		if err != nil {
			return
		}
		again := appendEnvelope(nil, e.node, e.kind, e.topic, e.messageType, e.data)
		if e2, err := parseEnvelope(again); err != nil || e2.topic != e.topic || !bytes.Equal(e2.data, e.data) {
			t.Fatalf("re-encoded %+v does not parse back: %+v, %v", e, e2, err)
		}
	})
}
