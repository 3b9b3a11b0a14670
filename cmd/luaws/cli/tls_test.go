package cli

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// TestServeTLS serves wss:// with a certificate made in the test, set by
// flags and by [tls], and talks to it with a client that trusts only it.
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	cert, _ := selfSigned(t, dir)
	echoLua, err := filepath.Abs("../../../scripts/echo.lua")
	if err != nil {
		t.Fatal(err)
	}
	// cert and key are relative to the config file.
	writeFile(t, filepath.Join(dir, "luaws.toml"), fmt.Sprintf(`
[[mount]]
script = %q

[tls]
cert = "cert.pem"
key = "key.pem"
`, echoLua))

	roots := x509.NewCertPool()
	roots.AddCert(cert)
	clientTLS := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}

	for _, tc := range []struct {
		name string
		args []string
	}{
		{"flags", []string{"--tls-cert", filepath.Join(dir, "cert.pem"), "--tls-key", filepath.Join(dir, "key.pem"), echoLua}},
		{"config", []string{"--config", filepath.Join(dir, "luaws.toml")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServe(t, 1, append([]string{"--listen", "127.0.0.1:0"}, tc.args...)...)
			if !strings.HasPrefix(s.URLs[0], "wss://127.0.0.1:") {
				t.Fatalf("got %q, want a wss:// URL", s.URLs[0])
			}
			d := &websocket.Dialer{TLSClientConfig: clientTLS, HandshakeTimeout: testTimeout}
			c, resp, body := wsDial(t, d, s.URLs[0], nil)
			if c == nil {
				t.Fatalf("dial: %d %q", resp.StatusCode, body)
			}
			echo(t, c, "over TLS")
			if code, body := get(t, base(s.URLs[0])+"/healthz", clientTLS); code != 200 || body != "ok\n" {
				t.Errorf("/healthz over https: got %d %q", code, body)
			}
			// A client that does not trust the certificate is refused.
			untrusting := &websocket.Dialer{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12}, HandshakeTimeout: testTimeout}
			if c, _, err := untrusting.Dial(s.URLs[0], nil); err == nil {
				c.Close()
				t.Errorf("a client without the CA connected")
			}
			// Plain ws:// to the TLS port does not upgrade.
			if c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(s.URLs[0], "wss"), nil); err == nil {
				c.Close()
				t.Errorf("plain ws:// connected to the TLS listener")
			}
		})
	}
}
