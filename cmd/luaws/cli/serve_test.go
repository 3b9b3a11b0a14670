package cli_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/cmd/luaws/cli"
	"github.com/luaws/luaws/engine/enginetest"
)

func TestServeConfigMounts(t *testing.T) {
	dir := t.TempDir()
	enginetest.WriteFile(t, filepath.Join(dir, "a.lua"), `return { message = function(conn, msg) conn:send("a:" .. msg) end }`+"\n")
	enginetest.WriteFile(t, filepath.Join(dir, "b.lua"), `return { message = function(conn, msg) conn:send({ b = msg.x }) end }`+"\n")
	enginetest.WriteFile(t, filepath.Join(dir, "www/index.html"), "<h1>chat</h1>\n")
	enginetest.WriteFile(t, filepath.Join(dir, "luaws.toml"), `
listen = "127.0.0.1:1"   # overridden by --listen
static = { "/" = "www" }

[[mount]]
path = "/a"
script = "a.lua"

[[mount]]
path = "/b"
script = "b.lua"
serializer = "json"
workers = 2
`)
	urls := startServe(t, "--config", filepath.Join(dir, "luaws.toml")).urls(t, 2)
	if !strings.HasSuffix(urls[0], "/a") || !strings.HasSuffix(urls[1], "/b") {
		t.Fatalf("got URLs %v, want /a and /b", urls)
	}
	a, _, _ := enginetest.Handshake(t, nil, urls[0], nil)
	if a == nil {
		t.Fatal("dial /a failed")
	}
	if err := a.WriteMessage(1, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if _, got, err := a.ReadMessage(); err != nil || string(got) != "a:hi" {
		t.Fatalf("/a: got %q %v, want a:hi", got, err)
	}
	b, _, _ := enginetest.Handshake(t, nil, urls[1], nil)
	if b == nil {
		t.Fatal("dial /b failed")
	}
	if err := b.WriteMessage(1, []byte(`{"x":3}`)); err != nil {
		t.Fatal(err)
	}
	if _, got, err := b.ReadMessage(); err != nil || string(got) != `{"b":3}` {
		t.Fatalf("/b: got %q %v, want {\"b\":3}", got, err)
	}
	if resp, body := enginetest.Get(t, base(urls[0])+"/", nil); resp.StatusCode != 200 || body != "<h1>chat</h1>\n" {
		t.Errorf("static /: got %d %q", resp.StatusCode, body)
	}
}

func TestServeStaticFlag(t *testing.T) {
	dir := t.TempDir()
	enginetest.WriteFile(t, filepath.Join(dir, "www/app.js"), "console.log(1)\n")
	s := startServe(t, "--static", filepath.Join(dir, "www"), "../../../examples/echo/echo.lua")
	if resp, body := enginetest.Get(t, base(s.URL)+"/app.js", nil); resp.StatusCode != 200 || body != "console.log(1)\n" {
		t.Errorf("static /app.js: got %d %q", resp.StatusCode, body)
	}
	if resp, _ := enginetest.Get(t, base(s.URL)+"/nope.js", nil); resp.StatusCode != 404 {
		t.Errorf("static /nope.js: got %d, want 404", resp.StatusCode)
	}
	c, _, _ := enginetest.Handshake(t, nil, s.URL, nil)
	enginetest.Echo(t, c, "next to the socket")
}

// TestServeFlagErrors: bad input stops serve with one line and exit 2.
func TestServeFlagErrors(t *testing.T) {
	dir := t.TempDir()
	enginetest.WriteFile(t, filepath.Join(dir, "app.lua"), "return {}\n")
	enginetest.WriteFile(t, filepath.Join(dir, "luaws.toml"), "[[mount]]\nscript = \"app.lua\"\n[[mount]]\npath = \"/b\"\nscript = \"app.lua\"\n")
	app, toml := filepath.Join(dir, "app.lua"), filepath.Join(dir, "luaws.toml")
	certFile, keyFile := enginetest.SelfSigned(t).WriteFiles(t, dir)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--config", toml, app}, "luaws: serve: a script (" + app + ") and --config: give scripts in [[mount]] tables"},
		{[]string{"--config", toml, "--mount", "/x"}, "luaws: --mount: " + toml + " has 2 mounts; set each path in its [[mount]]"},
		{[]string{"--tls-cert", filepath.Join(dir, "nope.pem"), "--tls-key", filepath.Join(dir, "nope.pem"), app},
			"luaws: --tls-cert: open " + filepath.Join(dir, "nope.pem") + ": no such file or directory"},
		{[]string{"--tls-cert", app, "--tls-key", app, app}, "luaws: --tls-cert: " + app + ": no PEM certificate in it"},
		{[]string{"--tls-cert", app, app}, "luaws: --tls-cert and --tls-key go together"},
		{[]string{"--tls-cert", certFile, "--tls-key", keyFile, "--tls-client-ca", app, app}, "luaws: --tls-client-ca: " + app + ": no PEM certificate in it"},
		{[]string{"--tls-cert", certFile, "--tls-key", keyFile, "--tls-client-auth", "require", app}, "luaws: --tls-client-auth: needs a client CA"},
		{[]string{"--tls-cert", certFile, "--tls-key", keyFile, "--tls-min-version", "1.0", app}, "luaws: --tls-min-version: want \"1.2\" or \"1.3\", got \"1.0\""},
		{[]string{"--tls-client-ca", certFile, app}, "luaws: --tls-client-ca and --tls-client-auth need --tls-cert and --tls-key"},
		{[]string{"--static", filepath.Join(dir, "nope"), app}, "luaws: --static " + filepath.Join(dir, "nope") + ": no such directory"},
		{[]string{"--workers", "0", app}, "luaws: --workers \"0\": want a number from 1 or auto"},
		{[]string{"--max-message-size", "big", app}, "luaws: --max-message-size: bad size \"big\""},
		{[]string{"--serializer", "xml", app}, "luaws: --serializer: unknown serializer \"xml\" (want none or json)"},
		{[]string{filepath.Join(dir, "nope.lua")}, "luaws: " + filepath.Join(dir, "nope.lua") + ": no such file"},
	} {
		var stdout, stderr bytes.Buffer
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		args := append([]string{"serve", "--listen", "127.0.0.1:0"}, tc.args...)
		if code := cli.Main(ctx, args, &stdout, &stderr); code != cli.ExitBadInput {
			t.Errorf("%v: exit code %d, want %d; stderr %q", tc.args, code, cli.ExitBadInput, stderr.String())
		}
		if !strings.HasPrefix(stderr.String(), tc.want) {
			t.Errorf("%v:\ngot  %q\nwant %q", tc.args, stderr.String(), tc.want)
		}
	}
}

func TestServeCompression(t *testing.T) {
	s := startServe(t, "--compression", "--max-message-size", "4KiB", "../../../examples/echo/echo.lua")
	d := &websocket.Dialer{EnableCompression: true, HandshakeTimeout: enginetest.Timeout}
	c, resp, body := enginetest.Handshake(t, d, s.URL, nil)
	if c == nil {
		t.Fatalf("dial: %d %q", resp.StatusCode, body)
	}
	if ext := resp.Header.Get("Sec-Websocket-Extensions"); !strings.Contains(ext, "permessage-deflate") {
		t.Fatalf("Sec-WebSocket-Extensions: got %q, want permessage-deflate", ext)
	}
	enginetest.Echo(t, c, strings.Repeat("compressible ", 100))
	// 64 KiB of one letter is tiny on the wire, but over 4 KiB inflated.
	if err := c.WriteMessage(websocket.TextMessage, bytes.Repeat([]byte("a"), 64<<10)); err != nil {
		t.Fatal(err)
	}
	if ce, _ := enginetest.ReadClose(t, c); ce.Code != websocket.CloseMessageTooBig {
		t.Errorf("got close %d %q, want 1009", ce.Code, ce.Text)
	}
}
