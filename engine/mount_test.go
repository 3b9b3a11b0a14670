package engine_test

import (
	"slices"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/engine"
	"github.com/luaws/luaws/engine/enginetest"
)

func TestBroadcast(t *testing.T) {
	rec := newRecorder()
	srv, url := newTestServer(t, mountOf(rec))
	m := srv.Mount("/ws")
	var clients []*websocket.Conn
	for range 3 {
		clients = append(clients, dial(t, url))
		rec.waitOpen(t)
	}

	tests := []struct {
		name   string
		typ    int
		data   string
		except uint64
		wantN  int
	}{
		{"to all", websocket.TextMessage, "all", 0, 3},
		{"except 2", websocket.TextMessage, "not 2", 2, 2},
		{"binary except 1", websocket.BinaryMessage, "bin", 1, 2},
		{"except unknown", websocket.TextMessage, "all again", 99, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := m.Broadcast(tt.typ, []byte(tt.data), tt.except)
			if err != nil || n != tt.wantN {
				t.Fatalf("Broadcast: got (%d, %v), want (%d, nil)", n, err, tt.wantN)
			}
			// A marker sent to each client after the broadcast shows whether
			// the broadcast reached it: it comes first if not.
			for i, ws := range clients {
				id := uint64(i + 1)
				if err := m.Conn(id).Send(websocket.TextMessage, []byte("marker")); err != nil {
					t.Fatal(err)
				}
				typ, data := enginetest.Read(t, ws)
				if id == tt.except {
					if string(data) != "marker" {
						t.Errorf("conn %d (except): got %q, want the marker", id, data)
					}
					continue
				}
				if typ != tt.typ || string(data) != tt.data {
					t.Errorf("conn %d: got (%d, %q), want (%d, %q)", id, typ, data, tt.typ, tt.data)
				}
				if got := enginetest.ReadText(t, ws); got != "marker" {
					t.Errorf("conn %d: got %q, want the marker", id, got)
				}
			}
		})
	}
}

func TestRegistry(t *testing.T) {
	rec := newRecorder()
	cfg := engine.Config{Mounts: []engine.MountConfig{{Path: "/a", Handler: rec}, {Path: "/b", Handler: echoHandler{}}}}
	srv, url := newTestServer(t, cfg)
	m := srv.Mount("/a")
	if m == nil || m.Path() != "/a" || srv.Mount("/nope") != nil {
		t.Fatalf("Mount: got %v, want /a, and nil for /nope", m)
	}
	if got := len(srv.Mounts()); got != 2 {
		t.Fatalf("Mounts: got %d, want 2", got)
	}
	ids := func() []uint64 {
		var out []uint64
		for _, c := range m.Conns() {
			out = append(out, c.ID())
		}
		slices.Sort(out)
		return out
	}
	if m.Len() != 0 || len(m.Conns()) != 0 || m.Conn(1) != nil {
		t.Fatalf("empty mount: got Len %d, Conns %v, want none", m.Len(), ids())
	}
	var clients []*websocket.Conn
	for i := range 3 {
		clients = append(clients, dial(t, url))
		c := rec.waitOpen(t)
		if got := m.Conn(c.ID()); got != c {
			t.Fatalf("Conn(%d): got %v, want the opened conn", c.ID(), got)
		}
		if c.Mount() != m {
			t.Errorf("Conn.Mount: got %v, want /a", c.Mount())
		}
		if m.Len() != i+1 {
			t.Errorf("Len: got %d, want %d", m.Len(), i+1)
		}
	}
	if got := ids(); !slices.Equal(got, []uint64{1, 2, 3}) {
		t.Errorf("Conns: got %v, want [1 2 3]", got)
	}
	if n := srv.Mount("/b").Len(); n != 0 {
		t.Errorf("other mount Len: got %d, want 0", n)
	}

	_ = clients[1].WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(enginetest.Timeout))
	if e := rec.waitClose(t, 2); e.inRegistry {
		t.Errorf("conn 2 was in the registry during Close, want it gone")
	}
	if m.Conn(2) != nil || m.Len() != 2 || !slices.Equal(ids(), []uint64{1, 3}) {
		t.Errorf("after close of 2: got Conn(2) %v, Len %d, Conns %v, want nil, 2, [1 3]", m.Conn(2), m.Len(), ids())
	}
}
