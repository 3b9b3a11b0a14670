package cli_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/cmd/luaws/cli"
	"github.com/luaws/luaws/engine/broker/brokertest"
	"github.com/luaws/luaws/engine/enginetest"
)

func TestServeBrokerDownAtStart(t *testing.T) {
	addr := brokertest.ClosedAddr(t)
	cases := []struct{ kind, server, url string }{
		{"nats", "NATS", "nats://" + addr},
		{"redis", "Redis", "redis://" + addr},
	}
	for _, tc := range cases {
		t.Run(tc.kind, func(t *testing.T) {
			var stdout, stderr enginetest.Buffer
			start := time.Now()
			code := cli.Main(t.Context(), []string{"serve", "--listen", "127.0.0.1:0",
				"--broker", tc.kind, "--broker-url", tc.url, "../../../examples/echo/echo.lua"}, &stdout, &stderr)
			if code != cli.ExitBadInput {
				t.Fatalf("exit code: got %d, want %d; stderr:\n%s", code, cli.ExitBadInput, stderr.String())
			}
			out := stderr.String()
			for _, want := range []string{"luaws: broker " + tc.kind + " at " + tc.url + ": ", "(try: start the " + tc.server + " server at " + tc.url} {
				if !strings.Contains(out, want) {
					t.Errorf("stderr %q does not contain %q", out, want)
				}
			}
			if strings.Contains(stdout.String(), "listening") {
				t.Errorf("stdout: got %q, want no listening line", stdout.String())
			}
			if d := time.Since(start); d > 8*time.Second {
				t.Errorf("took %v to fail", d)
			}
		})
	}
}

func TestServeBadBrokerKind(t *testing.T) {
	var stdout, stderr enginetest.Buffer
	code := cli.Main(t.Context(), []string{"serve", "--broker", "kafka", "../../../examples/echo/echo.lua"}, &stdout, &stderr)
	if code != cli.ExitBadInput || !strings.Contains(stderr.String(), `broker kind "kafka": want memory, nats or redis`) {
		t.Fatalf("got exit %d and %q, want 2 and the kinds", code, stderr.String())
	}
}

// TestChatAcrossNodes runs the chat example on two nodes that share a
// broker: what one person says on node A reaches the people on node B.
func TestChatAcrossNodes(t *testing.T) {
	kinds := []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"nats", func(t *testing.T) string { return brokertest.StartNATS(t).URL }},
		{"redis", func(t *testing.T) string { return brokertest.StartRedis(t).URL }},
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			url := k.url(t)
			args := []string{"--serializer", "json", "--broker", k.name, "--broker-url", url, "--broker-prefix", "test-chat",
				"../../../examples/chat/chat.lua"}
			a, b := startServe(t, args...).URL, startServe(t, args...).URL
			ann := dialJSON(t, a+"?name=ann")
			if got := ann.next(t)["type"]; got != "welcome" {
				t.Fatalf("ann: got %v, want welcome", got)
			}
			bob := dialJSON(t, b+"?name=bob")
			// Ann's "joined" went out before bob connected, but it may
			// reach node B after he did.
			bob.skip = func(m map[string]any) bool { return m["type"] == "joined" && m["name"] == "ann" }
			if got := bob.next(t)["type"]; got != "welcome" {
				t.Fatalf("bob: got %v, want welcome", got)
			}
			if m := ann.next(t); m["type"] != "joined" || m["name"] != "bob" {
				t.Fatalf("ann: got %v, want bob joined (from node B)", m)
			}
			bob.send(t, `{"type":"say","text":"hi from B"}`)
			for name, c := range map[string]*jsonClient{"ann": ann, "bob": bob} {
				if m := c.next(t); m["type"] != "said" || m["text"] != "hi from B" {
					t.Fatalf("%s: got %v, want bob's words", name, m)
				}
			}
			ann.send(t, `{"type":"say","text":"hi from A"}`)
			for name, c := range map[string]*jsonClient{"ann": ann, "bob": bob} {
				if m := c.next(t); m["type"] != "said" || m["text"] != "hi from A" {
					t.Fatalf("%s: got %v, want ann's words, once", name, m)
				}
			}
		})
	}
}

type jsonClient struct {
	ws   *websocket.Conn
	skip func(map[string]any) bool // messages next passes over; nil: none
}

func dialJSON(t *testing.T, url string) *jsonClient {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { ws.Close() })
	return &jsonClient{ws: ws}
}

func (c *jsonClient) send(t *testing.T, s string) {
	t.Helper()
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		t.Fatal(err)
	}
}

func (c *jsonClient) next(t *testing.T) map[string]any {
	t.Helper()
	_ = c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("%s: %v", data, err)
		}
		if c.skip == nil || !c.skip(m) {
			return m
		}
	}
}
