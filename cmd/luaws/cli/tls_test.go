package cli_test

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/engine/enginetest"
)

// TestServeTLS serves wss:// with a certificate made in the test, set by
// flags and by [tls], and talks to it with a client that trusts only it.
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	cert := enginetest.SelfSigned(t)
	cert.WriteFiles(t, dir)
	echoLua, err := filepath.Abs("../../../scripts/echo.lua")
	if err != nil {
		t.Fatal(err)
	}
	// cert and key are relative to the config file.
	enginetest.WriteFile(t, filepath.Join(dir, "luaws.toml"), fmt.Sprintf(`
[[mount]]
script = %q

[tls]
cert = "cert.pem"
key = "key.pem"
`, echoLua))

	clientTLS := &tls.Config{RootCAs: cert.Pool, MinVersion: tls.VersionTLS12}

	for _, tc := range []struct {
		name string
		args []string
	}{
		{"flags", []string{"--tls-cert", filepath.Join(dir, "cert.pem"), "--tls-key", filepath.Join(dir, "key.pem"), echoLua}},
		{"config", []string{"--config", filepath.Join(dir, "luaws.toml")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServe(t, tc.args...)
			if !strings.HasPrefix(s.URL, "wss://127.0.0.1:") {
				t.Fatalf("got %q, want a wss:// URL", s.URL)
			}
			d := &websocket.Dialer{TLSClientConfig: clientTLS, HandshakeTimeout: enginetest.Timeout}
			c, resp, body := enginetest.Handshake(t, d, s.URL, nil)
			if c == nil {
				t.Fatalf("dial: %d %q", resp.StatusCode, body)
			}
			enginetest.Echo(t, c, "over TLS")
			if resp, body := enginetest.Do(t, http.MethodGet, base(s.URL)+"/healthz", nil, clientTLS); resp.StatusCode != 200 || body != "ok\n" {
				t.Errorf("/healthz over https: got %d %q", resp.StatusCode, body)
			}
			// A client that does not trust the certificate is refused.
			untrusting := &websocket.Dialer{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12}, HandshakeTimeout: enginetest.Timeout}
			if c, _, err := untrusting.Dial(s.URL, nil); err == nil {
				c.Close()
				t.Errorf("a client without the CA connected")
			}
			// Plain ws:// to the TLS port does not upgrade.
			if c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(s.URL, "wss"), nil); err == nil {
				c.Close()
				t.Errorf("plain ws:// connected to the TLS listener")
			}
		})
	}
}
