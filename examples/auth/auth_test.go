package auth_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/engine/enginetest"
	"github.com/luaws/luaws/examples/internal/exampletest"
)

// serveAuth serves auth.lua the way its README does.
func serveAuth(t *testing.T) *exampletest.Server {
	t.Helper()
	return exampletest.Serve(t, "--serializer", "json", "auth.lua")
}

func TestAuthRejects(t *testing.T) {
	srv := serveAuth(t)
	for _, tc := range []struct {
		name   string
		query  string
		header http.Header
		want   string // in the body
	}{
		{"no token", "", nil, "missing token"},
		{"empty token", "?token=", nil, "missing token"},
		{"unknown token in the query", "?token=guess", nil, "unknown token"},
		{"unknown bearer token", "", http.Header{"Authorization": {"Bearer guess"}}, "unknown token"},
		{"not a bearer token", "", http.Header{"Authorization": {"Basic YW5uOnB3"}}, "missing token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, resp, body := enginetest.Handshake(t, nil, srv.WS("/ws"+tc.query), tc.header)
			if c != nil {
				t.Fatal("the upgrade succeeded, want 401")
			}
			if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, tc.want) {
				t.Errorf("got %s %q, want 401 containing %q", resp.Status, body, tc.want)
			}
		})
	}
}

func TestAuthAccepts(t *testing.T) {
	srv := serveAuth(t)
	ann := srv.Dial(t, "/ws?token=s3cret-ann", nil)
	if m := exampletest.ReadJSON(t, ann); m["type"] != "hello" || m["user"] != "ann" || m["role"] != "admin" {
		t.Errorf("ann: got %v, want hello from ann, admin", m)
	}
	bob := srv.Dial(t, "/ws", http.Header{"Authorization": {"Bearer s3cret-bob"}})
	if m := exampletest.ReadJSON(t, bob); m["type"] != "hello" || m["user"] != "bob" || m["role"] != "member" {
		t.Errorf("bob: got %v, want hello from bob, member", m)
	}

	// The name comes from the token, not from what the client claims.
	exampletest.WriteJSON(t, bob, map[string]any{"type": "say", "text": "hi", "from": "ann"})
	for _, c := range []*websocket.Conn{ann, bob} {
		if m := exampletest.ReadJSON(t, c); m["type"] != "said" || m["from"] != "bob" {
			t.Errorf("got %v, want said from bob", m)
		}
	}

	// Roles from conn.data: bob may not announce, ann may.
	exampletest.WriteJSON(t, bob, map[string]any{"type": "announce", "text": "free pizza"})
	if m := exampletest.ReadJSON(t, bob); m["type"] != "error" || !strings.Contains(m["error"].(string), "forbidden") {
		t.Errorf("bob's announce: got %v, want a forbidden error", m)
	}
	exampletest.WriteJSON(t, ann, map[string]any{"type": "announce", "text": "maintenance at noon"})
	for _, c := range []*websocket.Conn{ann, bob} {
		if m := exampletest.ReadJSON(t, c); m["type"] != "announcement" || m["text"] != "maintenance at noon" {
			t.Errorf("got %v, want the announcement", m)
		}
	}
}
