package cli_test

import (
	"path/filepath"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/engine/enginetest"
)

// TestServeMiddleware wires middleware from luaws.toml and checks what a
// client sees: 401 without a token, 1008 past the message rate, 429 past
// the handshake rate, every refusal shaped by the script's error handler.
func TestServeMiddleware(t *testing.T) {
	dir := t.TempDir()
	enginetest.WriteFile(t, filepath.Join(dir, "app.lua"), `
local M = {}
function M.message(conn, msg) conn:send(msg) end
function M.error(req, err, status) return status, nil, "lua says: " .. err end
return M
`)
	enginetest.WriteFile(t, filepath.Join(dir, "luaws.toml"), `
[[mount]]
path = "/chat"
script = "app.lua"
middleware = ["access_log", "real_ip", "rate_limit", "bearer"]

[mount.middleware_init.rate_limit]
messages_per_second = 0.1
burst = 2
handshakes_per_second = 0.1
handshake_burst = 3

[mount.middleware_init.bearer]
tokens = ["tok"]
query = "token"
`)
	s := startServe(t, "--config", filepath.Join(dir, "luaws.toml"))
	url := s.URL

	c, resp, body := enginetest.Handshake(t, nil, url, nil)
	if c != nil || resp.StatusCode != 401 || body != "lua says: unauthorized" {
		t.Fatalf("no token: got %d %q, want 401 \"lua says: unauthorized\"", resp.StatusCode, body)
	}
	if resp.Header.Get("Www-Authenticate") == "" {
		t.Errorf("401 without WWW-Authenticate")
	}
	c, resp, body = enginetest.Handshake(t, nil, url+"?token=tok", nil)
	if c == nil {
		t.Fatalf("token: got %d %q, want 101", resp.StatusCode, body)
	}
	enginetest.Echo(t, c, "one")
	enginetest.Echo(t, c, "two")
	if err := c.WriteMessage(websocket.TextMessage, []byte("three")); err != nil {
		t.Fatal(err)
	}
	if ce, _ := enginetest.ReadClose(t, c); ce.Code != websocket.ClosePolicyViolation || ce.Text != "rate limit exceeded" {
		t.Errorf("past the rate: got close %d %q, want 1008 \"rate limit exceeded\"", ce.Code, ce.Text)
	}
	if c, resp, _ := enginetest.Handshake(t, nil, url+"?token=tok", nil); c == nil {
		t.Fatalf("third handshake: got %d, want 101", resp.StatusCode)
	}
	c, resp, body = enginetest.Handshake(t, nil, url+"?token=tok", nil)
	if c != nil || resp.StatusCode != 429 || body != "lua says: rate limited" {
		t.Fatalf("fourth handshake: got %d %q, want 429 \"lua says: rate limited\"", resp.StatusCode, body)
	}
	if resp.Header.Get("Retry-After") != "10" {
		t.Errorf("Retry-After: got %q, want 10", resp.Header.Get("Retry-After"))
	}
}
