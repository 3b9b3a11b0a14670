package enginetest_test

import (
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/engine"
	"github.com/luaws/luaws/engine/enginetest"
)

func TestMain(m *testing.M) { enginetest.Main(m) }

// echo sends every message back, and closes with 4000 on "bye".
type echo struct{}

func (echo) Open(*engine.Conn) {}
func (echo) Message(c *engine.Conn, m engine.Message) {
	if string(m.Data) == "bye" {
		c.Close(4000, "bye")
		return
	}
	_ = c.Send(m.Type, m.Data)
}
func (echo) Close(*engine.Conn, int, string) {}

func TestServeAndClient(t *testing.T) {
	logs := &enginetest.Buffer{}
	srv, err := engine.New(engine.Config{
		Logger: enginetest.Logger(t, slog.LevelInfo, logs),
		Mounts: []engine.MountConfig{{Path: "/echo", Handler: echo{}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	url := enginetest.Serve(t, srv)
	if !strings.HasPrefix(url, "ws://127.0.0.1:") || !strings.HasSuffix(url, "/echo") {
		t.Fatalf("got URL %q, want ws://127.0.0.1:PORT/echo", url)
	}

	c := enginetest.Dial(t, url)
	enginetest.Echo(t, c, "hello")
	enginetest.Write(t, c, websocket.BinaryMessage, []byte{1, 2})
	if typ, data := enginetest.Read(t, c); typ != websocket.BinaryMessage || string(data) != "\x01\x02" {
		t.Errorf("got %d %q, want binary \\x01\\x02", typ, data)
	}
	enginetest.WriteText(t, c, "text")
	if got := enginetest.ReadText(t, c); got != "text" {
		t.Errorf("got %q, want text", got)
	}
	enginetest.WriteText(t, c, "one")
	enginetest.WriteText(t, c, "bye")
	ce, msgs := enginetest.ReadClose(t, c)
	if ce.Code != 4000 || ce.Text != "bye" || len(msgs) != 1 || msgs[0] != "one" {
		t.Errorf("got close %d %q after %q, want 4000 \"bye\" after [one]", ce.Code, ce.Text, msgs)
	}
	logs.WaitFor(t, "connection closed", "code=4000")
	if got := logs.Lines("connection opened", "conn=1"); len(got) != 1 {
		t.Errorf("got opened lines %q, want one", got)
	}

	// A plain GET is refused, with the same answer through Handshake's
	// client and Get's.
	c, resp, body := enginetest.Handshake(t, nil, url, http.Header{"Origin": {"http://elsewhere.example"}})
	if c != nil || resp.StatusCode != http.StatusForbidden || body == "" {
		t.Errorf("foreign origin: got %v %d %q, want 403 and a body", c, resp.StatusCode, body)
	}
	resp, body = enginetest.Get(t, enginetest.HTTPURL(url), nil)
	if resp.StatusCode != http.StatusBadRequest || body == "" {
		t.Errorf("GET %s: got %d %q, want 400 and a body", enginetest.HTTPURL(url), resp.StatusCode, body)
	}
}

func TestWaitFor(t *testing.T) {
	n := 0
	enginetest.WaitFor(t, "three polls", func() bool { n++; return n == 3 })
	if enginetest.Until(0, func() bool { return false }) {
		t.Error("Until: got true for a condition that never holds")
	}
}

func TestWriteFile(t *testing.T) {
	path := enginetest.WriteFile(t, t.TempDir()+"/a/b.txt", "x")
	if !strings.HasSuffix(path, "/a/b.txt") {
		t.Errorf("got %q", path)
	}
}

// TestSelfSigned: a TLS client that trusts Pool completes a handshake with
// a server that presents TLS, for 127.0.0.1 and for localhost.
func TestSelfSigned(t *testing.T) {
	cert := enginetest.SelfSigned(t)
	if _, err := tls.X509KeyPair(cert.CertPEM, cert.KeyPEM); err != nil {
		t.Fatalf("PEM pair: %v", err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert.TLS}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	for _, name := range []string{"127.0.0.1", "localhost"} {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: enginetest.Timeout}, "tcp", ln.Addr().String(),
			&tls.Config{RootCAs: cert.Pool, ServerName: name})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		c.Close()
	}
}

// TestImports: enginetest imports only the standard library, gorilla and
// engine, so that engine's own tests can use it.
func TestImports(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("go tool not found: %v", err)
	}
	out, err := exec.Command(goTool, "list", "-f", `{{join .Imports "\n"}}`, ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for imp := range strings.FieldsSeq(string(out)) {
		first, _, _ := strings.Cut(imp, "/")
		if strings.Contains(first, ".") && imp != "github.com/gorilla/websocket" && imp != "github.com/luaws/luaws/engine" {
			t.Errorf("enginetest imports %s, want only the standard library, gorilla/websocket and engine", imp)
		}
	}
}
