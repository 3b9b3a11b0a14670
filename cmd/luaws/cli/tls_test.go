package cli_test

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/engine/enginetest"
)

// TestServeTLS serves wss:// with a certificate made in the test, set by
// flags and by [tls], and talks to it with a client that trusts only it.
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	cert := enginetest.SelfSigned(t)
	cert.WriteFiles(t, dir)
	echoLua, err := filepath.Abs("../../../examples/echo/echo.lua")
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

// mtlsScript refuses a handshake without a client certificate (so
// verify_if_given shows its difference) and sends what conn.tls holds.
const mtlsScript = `
local M = {}
function M.handshake(req)
  if not req.tls then return false, 500, "no req.tls" end
  if not req.tls.client then return false, 403, "no certificate" end
  return { data = { subject = req.tls.client.subject } }
end
function M.open(conn)
  local t, c = conn.tls, conn.tls.client
  conn:send(table.concat({ t.version, t.cipher, t.server_name, c.subject, c.issuer,
    table.concat(c.sans, ","), c.serial, c.fingerprint_sha256, conn.data.subject }, "|"))
end
function M.message(conn, msg) conn:send(msg) end
return M
`

// TestClientCertificates: with --tls-client-ca, a client certificate the
// CA signed gets through and the script sees it in req.tls and conn.tls;
// one from another CA, or none, fails the TLS handshake with a log line
// naming the peer, and no script runs; verify_if_given lets a client
// without one through to the script.
func TestClientCertificates(t *testing.T) {
	dir := t.TempDir()
	cert := enginetest.SelfSigned(t)
	certFile, keyFile := cert.WriteFiles(t, dir)
	ca := enginetest.NewCA(t, "luaws test CA")
	caFile := enginetest.WriteFile(t, filepath.Join(dir, "ca.pem"), string(ca.CertPEM))
	script := enginetest.WriteFile(t, filepath.Join(dir, "mtls.lua"), mtlsScript)
	good := ca.ClientCert(t, pkix.Name{CommonName: "ann", Organization: []string{"Example"}}, &x509.Certificate{
		EmailAddresses: []string{"ann@example.com"},
		URIs:           []*url.URL{{Scheme: "spiffe", Host: "example.org", Path: "/ann"}},
	})
	other := enginetest.NewCA(t, "another CA").ClientCert(t, pkix.Name{CommonName: "eve"}, nil)
	// dial sends certs[0] whatever CAs the server names (Go's client
	// would otherwise send no certificate the server's CAs did not sign).
	dial := func(url string, certs ...tls.Certificate) (*websocket.Conn, *http.Response, error) {
		cfg := &tls.Config{RootCAs: cert.Pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}
		if len(certs) > 0 {
			cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &certs[0], nil }
		}
		d := &websocket.Dialer{HandshakeTimeout: enginetest.Timeout, TLSClientConfig: cfg}
		return d.Dial(url, nil)
	}

	t.Run("require", func(t *testing.T) {
		s := startServe(t, "--tls-cert", certFile, "--tls-key", keyFile, "--tls-client-ca", caFile, script)
		c, _, err := dial(s.URL, good)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(enginetest.Timeout))
		_, got, err := c.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(good.Leaf.Raw)
		want := strings.Join([]string{"TLS 1.3", "TLS_AES_128_GCM_SHA256", "localhost", "CN=ann,O=Example", "CN=luaws test CA",
			"ann@example.com,spiffe://example.org/ann", strings.ToUpper(good.Leaf.SerialNumber.Text(16)),
			hex.EncodeToString(sum[:]), "CN=ann,O=Example"}, "|")
		if string(got) != want {
			t.Errorf("conn.tls:\n got %s\nwant %s", got, want)
		}

		for _, tc := range []struct {
			name   string
			certs  []tls.Certificate
			reason string
		}{
			{"another CA's certificate", []tls.Certificate{other}, "certificate signed by unknown authority"},
			{"no certificate", nil, "didn't provide a certificate"},
		} {
			if c, _, err := dial(s.URL, tc.certs...); err == nil {
				c.Close()
				t.Errorf("%s: connected", tc.name)
			}
			enginetest.WaitFor(t, "a log line naming the peer and "+tc.reason, func() bool {
				return strings.Contains(s.stderr.String(), "TLS handshake error from 127.0.0.1:") &&
					strings.Contains(s.stderr.String(), tc.reason)
			})
		}
		if strings.Contains(s.stderr.String(), "CN=eve") || strings.Count(s.stderr.String(), "connection opened") != 1 {
			t.Errorf("a refused client reached the script:\n%s", s.stderr)
		}
	})

	t.Run("verify_if_given", func(t *testing.T) {
		s := startServe(t, "--tls-cert", certFile, "--tls-key", keyFile, "--tls-client-ca", caFile,
			"--tls-client-auth", "verify_if_given", script)
		c, _, err := dial(s.URL, good)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		// Without a certificate TLS succeeds and the script decides.
		if _, resp, err := dial(s.URL); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("no certificate: got %v, %v; want the script's 403", resp, err)
		}
		if c, _, err := dial(s.URL, other); err == nil {
			c.Close()
			t.Errorf("another CA's certificate connected")
		}
	})

	t.Run("min_version", func(t *testing.T) {
		s := startServe(t, "--tls-cert", certFile, "--tls-key", keyFile, "--tls-min-version", "1.3", echoScript(t))
		d := &websocket.Dialer{HandshakeTimeout: enginetest.Timeout, TLSClientConfig: &tls.Config{
			RootCAs: cert.Pool, MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12}}
		if c, _, err := d.Dial(s.URL, nil); err == nil {
			c.Close()
			t.Errorf("a TLS 1.2 client connected to --tls-min-version 1.3")
		}
	})
}

// echoScript is examples/echo/echo.lua's absolute path.
func echoScript(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs("../../../examples/echo/echo.lua")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTLSReloadOnSIGHUP: SIGHUP reads the certificate files again; the
// connections open keep going, new ones get the new certificate, and
// files that do not load leave the old certificate in place.
func TestTLSReloadOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	first := enginetest.SelfSigned(t)
	certFile, keyFile := first.WriteFiles(t, dir)
	s := startServe(t, "--tls-cert", certFile, "--tls-key", keyFile, echoScript(t))

	pools := x509.NewCertPool()
	second := enginetest.SelfSigned(t)
	pools.AddCert(first.TLS.Leaf)
	pools.AddCert(second.TLS.Leaf)
	d := &websocket.Dialer{HandshakeTimeout: enginetest.Timeout, TLSClientConfig: &tls.Config{RootCAs: pools, MinVersion: tls.VersionTLS12}}
	served := func() []byte {
		t.Helper()
		c, _, err := d.Dial(s.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.NetConn().(*tls.Conn).ConnectionState().PeerCertificates[0].Raw
	}
	old, _, err := d.Dial(s.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()

	second.WriteFiles(t, dir)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	enginetest.WaitFor(t, "the TLS reload line", func() bool { return strings.Contains(s.stderr.String(), "TLS reloaded") })
	if !bytes.Equal(served(), second.TLS.Leaf.Raw) {
		t.Errorf("after SIGHUP the server still shows the old certificate")
	}
	enginetest.Echo(t, old, "still here")

	enginetest.WriteFile(t, certFile, "not a certificate")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	enginetest.WaitFor(t, "the refused reload line", func() bool { return strings.Contains(s.stderr.String(), "TLS reload refused") })
	if !bytes.Equal(served(), second.TLS.Leaf.Raw) {
		t.Errorf("a refused reload changed the certificate")
	}
}
