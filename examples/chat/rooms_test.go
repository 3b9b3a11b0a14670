package chat_test

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/examples/internal/exampletest"
)

// startChat serves this folder's chat.lua and page the way the README's
// quick start does: from luaws.toml, on a free port.
func startChat(t testing.TB) *exampletest.Server {
	t.Helper()
	return exampletest.Serve(t, "--config", "luaws.toml")
}

// names lists the "name" of each entry of a people list.
func names(t testing.TB, people any) []string {
	t.Helper()
	list, ok := people.([]any)
	if !ok {
		t.Fatalf("people = %#v, want a list", people)
	}
	var out []string
	for _, p := range list {
		out = append(out, p.(map[string]any)["name"].(string))
	}
	return out
}

func wantFields(t testing.TB, m map[string]any, want map[string]any) {
	t.Helper()
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%v: got %s = %v, want %v", m, k, m[k], v)
		}
	}
}

func TestServePrintsThePageURL(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"config", []string{"--config", "luaws.toml"}},
		{"flags", []string{"--serializer", "json", "--static", "public", "chat.lua"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := exampletest.Serve(t, tc.args...)
			for _, want := range []string{
				"luaws listening on ws://" + srv.Addr() + "/ws",
				"luaws serving static files on http://" + srv.Addr() + "/",
			} {
				if !srv.WaitStdout(want) {
					t.Errorf("serve printed %q, want a line %q", srv.Stdout(), want)
				}
			}
			checkPage(t, srv)
		})
	}
}

// checkPage checks that srv serves the page's three files.
func checkPage(t *testing.T, srv *exampletest.Server) {
	t.Helper()
	for _, tc := range []struct{ path, contentType, contains string }{
		{"/", "text/html", `<script src="app.js"`},
		{"/app.js", "javascript", "new WebSocket("},
		{"/style.css", "text/css", ".messages"},
	} {
		resp, err := http.Get(srv.HTTP(tc.path))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Type"), tc.contentType) ||
			!strings.Contains(string(body), tc.contains) {
			t.Errorf("GET %s: got %s %q, want 200 %s containing %q", tc.path, resp.Status,
				resp.Header.Get("Content-Type"), tc.contentType, tc.contains)
		}
	}
}

func TestRooms(t *testing.T) {
	srv := startChat(t)

	ann := srv.Dial(t, "/ws?name=ann&room=garden", nil)
	wantFields(t, exampletest.ReadType(t, ann, "welcome"), map[string]any{"name": "ann", "room": "garden"})

	bob := srv.Dial(t, "/ws?name=bob&room=Garden", nil) // room names are lower case
	w := exampletest.ReadType(t, bob, "welcome")
	wantFields(t, w, map[string]any{"name": "bob", "room": "garden"})
	if got := names(t, w["people"]); !slices.Equal(got, []string{"ann", "bob"}) {
		t.Errorf("bob's welcome: got people %v, want [ann bob]", got)
	}
	wantFields(t, exampletest.ReadType(t, ann, "joined"), map[string]any{"name": "bob", "room": "garden"})

	cat := srv.Dial(t, "/ws?name=cat", nil) // no room: the lobby
	w = exampletest.ReadType(t, cat, "welcome")
	wantFields(t, w, map[string]any{"name": "cat", "room": "lobby"})
	if got := names(t, w["people"]); !slices.Equal(got, []string{"cat"}) {
		t.Errorf("cat's welcome: got people %v, want [cat]", got)
	}

	// What is said in the garden stays in the garden.
	exampletest.WriteJSON(t, bob, map[string]any{"type": "say", "text": "hi garden"})
	for _, c := range []*websocket.Conn{ann, bob} {
		wantFields(t, exampletest.ReadJSON(t, c), map[string]any{"type": "said", "from": "bob", "room": "garden", "text": "hi garden"})
	}
	exampletest.WriteJSON(t, cat, map[string]any{"type": "say", "text": "hi lobby"})
	wantFields(t, exampletest.ReadJSON(t, cat), map[string]any{"type": "said", "from": "cat", "room": "lobby", "text": "hi lobby"})

	// cat moves to the garden: cat learns who is there, the others see cat arrive.
	exampletest.WriteJSON(t, cat, map[string]any{"type": "join", "room": "garden"})
	p := exampletest.ReadJSON(t, cat)
	wantFields(t, p, map[string]any{"type": "presence", "room": "garden"})
	if got := names(t, p["people"]); !slices.Equal(got, []string{"ann", "bob", "cat"}) {
		t.Errorf("cat's presence: got people %v, want [ann bob cat]", got)
	}
	for _, c := range []*websocket.Conn{ann, bob} {
		wantFields(t, exampletest.ReadJSON(t, c), map[string]any{"type": "joined", "name": "cat", "room": "garden"})
	}

	// bob moves to the lobby: the garden sees bob leave.
	exampletest.WriteJSON(t, bob, map[string]any{"type": "join", "room": "lobby"})
	p = exampletest.ReadJSON(t, bob)
	wantFields(t, p, map[string]any{"type": "presence", "room": "lobby"})
	if got := names(t, p["people"]); !slices.Equal(got, []string{"bob"}) {
		t.Errorf("bob's presence: got people %v, want [bob]", got)
	}
	for _, c := range []*websocket.Conn{ann, cat} {
		wantFields(t, exampletest.ReadJSON(t, c), map[string]any{"type": "left", "name": "bob", "room": "garden"})
	}

	// A rename is seen by the room only.
	exampletest.WriteJSON(t, ann, map[string]any{"type": "name", "name": "annie"})
	for _, c := range []*websocket.Conn{ann, cat} {
		wantFields(t, exampletest.ReadJSON(t, c), map[string]any{"type": "renamed", "from": "ann", "name": "annie", "room": "garden"})
	}

	// Leaving the chat is a "left" in the room.
	cat.Close()
	wantFields(t, exampletest.ReadJSON(t, ann), map[string]any{"type": "left", "name": "cat", "room": "garden"})

	// bob in the lobby heard none of it: its next message is its own.
	exampletest.WriteJSON(t, bob, map[string]any{"type": "say", "text": "anyone?"})
	wantFields(t, exampletest.ReadJSON(t, bob), map[string]any{"type": "said", "from": "bob", "text": "anyone?"})
}

func TestBadMessages(t *testing.T) {
	srv := startChat(t)
	c := srv.Dial(t, "/ws?name=ann", nil)
	exampletest.ReadType(t, c, "welcome")
	for _, tc := range []struct {
		name string
		send string
		want string // in the error
	}{
		{"not JSON", `{"type":`, "bad JSON"},
		{"not an object", `[1,2]`, "send a JSON object"},
		{"unknown type", `{"type":"dance"}`, "unknown message type"},
		{"bad room", `{"type":"join","room":"no spaces"}`, "room names are"},
		{"room too long", `{"type":"join","room":"` + strings.Repeat("r", 33) + `"}`, "room names are"},
		{"empty name", `{"type":"name","name":"  "}`, "name is empty"},
		{"name too long", `{"type":"name","name":"` + strings.Repeat("é", 25) + `"}`, "longer than 24"},
		{"say without text", `{"type":"say"}`, "say needs a text"},
		{"text too long", `{"type":"say","text":"` + strings.Repeat("x", 2001) + `"}`, "longer than 2000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := c.WriteMessage(websocket.TextMessage, []byte(tc.send)); err != nil {
				t.Fatal(err)
			}
			m := exampletest.ReadJSON(t, c)
			if m["type"] != "error" || !strings.Contains(m["error"].(string), tc.want) {
				t.Errorf("got %v, want an error containing %q", m, tc.want)
			}
		})
	}
	// The connection is still fine.
	exampletest.WriteJSON(t, c, map[string]any{"type": "say", "text": "still here"})
	wantFields(t, exampletest.ReadJSON(t, c), map[string]any{"type": "said", "text": "still here"})
}

// A server shutdown closes every page's socket with 1001, which the page
// treats as "reconnect".
func TestShutdownClosesWith1001(t *testing.T) {
	srv := startChat(t)
	c := srv.Dial(t, "/ws?name=ann", nil)
	exampletest.ReadType(t, c, "welcome")
	// Read while the server stops, so the close handshake completes.
	closed := make(chan error, 1)
	go func() {
		_ = c.SetReadDeadline(time.Now().Add(exampletest.StopTimeout))
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				closed <- err
				return
			}
		}
	}()
	srv.Stop()
	if err := <-closed; !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Fatalf("got %v, want close 1001", err)
	}
}
