package cli_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/cmd/luaws/cli"
	"github.com/luaws/luaws/engine/enginetest"
)

// remoteAddrScript sends each client its conn.remote_addr on open, then echoes.
const remoteAddrScript = `local M = {}
function M.open(conn) conn:send(conn.remote_addr) end
function M.message(conn, msg) conn:send(msg) end
return M
`

// dialUnix opens a WebSocket to the mount path over the Unix socket at sock.
func dialUnix(t *testing.T, sock, path string) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{
		NetDialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var nd net.Dialer
			return nd.DialContext(ctx, "unix", sock)
		},
		HandshakeTimeout: 5 * time.Second,
	}
	c, _, err := enginetest.DialWith(t, &d, "ws://luaws"+path, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", sock, err)
	}
	return c
}

// TestListenUnix serves on a Unix socket: the listening line names it,
// its mode is --socket-mode, a client's remote_addr is "@", and a socket
// file left by a server that is gone is replaced.
func TestListenUnix(t *testing.T) {
	dir := t.TempDir()
	script := enginetest.WriteFile(t, filepath.Join(dir, "a.lua"), remoteAddrScript)
	sock := filepath.Join(dir, "s.sock")

	// A stale socket: bound, then its server went away without removing it.
	stale, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()

	s := startServe(t, "--listen", "unix:"+sock, "--socket-mode", "0600", script)
	if want := "ws+unix://" + sock + ":/ws"; s.URL != want {
		t.Errorf("listening on %s, want %s", s.URL, want)
	}
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("socket mode: got %o, want 600", got)
	}
	c := dialUnix(t, sock, "/ws")
	if got := enginetest.ReadText(t, c); got != "@" {
		t.Errorf("remote_addr: got %q, want @", got)
	}
	enginetest.Echo(t, c, "over unix")
	c.Close()

	s.stop(t)
	if _, err := os.Lstat(sock); !os.IsNotExist(err) {
		t.Errorf("after stop, the socket file is still there (%v)", err)
	}
}

// TestListenUnixRefused: a socket another server answers on, a file that
// is not a socket, and a folder that does not exist stop serve with exit 2
// and a line that names the path.
func TestListenUnixRefused(t *testing.T) {
	dir := t.TempDir()
	script := enginetest.WriteFile(t, filepath.Join(dir, "a.lua"), remoteAddrScript)
	live := filepath.Join(dir, "live.sock")
	ln, err := net.Listen("unix", live)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	plain := enginetest.WriteFile(t, filepath.Join(dir, "plain"), "not a socket")
	toml := enginetest.WriteFile(t, filepath.Join(dir, "luaws.toml"),
		"listen = \"unix:"+dir+"/nope/s.sock\"\n[[mount]]\nscript = \"a.lua\"\n")
	badMode := enginetest.WriteFile(t, filepath.Join(dir, "mode.toml"),
		"socket_mode = \"rw\"\n[[mount]]\nscript = \"a.lua\"\n")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"in use", []string{"--listen", "unix:" + live, script}, live + " is in use by another server"},
		{"not a socket", []string{"--listen", "unix:" + plain, script}, plain + " exists and is not a socket"},
		{"no folder", []string{"--listen", "unix:" + dir + "/nope/s.sock", script}, "--listen " + dir + "/nope/s.sock: the folder " + dir + "/nope does not exist"},
		{"no path", []string{"--listen", "unix:", script}, "--listen unix: wants a path"},
		{"config no folder", []string{"--config", toml}, toml + ":1: listen: " + dir + "/nope/s.sock: the folder"},
		{"config mode", []string{"--config", badMode}, badMode + `:1: socket_mode: want octal permission bits like "0660", got "rw"`},
		{"flag mode", []string{"--socket-mode", "999", script}, `--socket-mode: want octal permission bits`},
		{"systemd without sockets", []string{"--listen", "systemd", script}, "systemd: no socket was passed"},
		{"admin systemd", []string{"--admin-listen", "systemd", script}, "--admin-listen systemd: only --listen takes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			code := cli.Main(context.Background(), append([]string{"serve"}, tc.args...), &stdout, &stderr)
			if code != cli.ExitBadInput {
				t.Errorf("exit code: got %d, want %d", code, cli.ExitBadInput)
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr: got %q, want it to contain %q", stderr.String(), tc.want)
			}
		})
	}
}

// TestSystemdActivation passes a listening socket to a child `luaws serve`
// as systemd does: the socket as fd 3, LISTEN_FDS=1 and LISTEN_PID set to
// the child's own pid (by a shell that then execs it, as
// systemd-socket-activate does). The child is this test binary running
// cli.Main (see TestMain).
func TestSystemdActivation(t *testing.T) {
	for _, tc := range []struct {
		name, network string
		flags         []string
	}{
		{"tcp automatic", "tcp", nil},
		{"unix --listen systemd", "unix", []string{"--listen", "systemd"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			script := enginetest.WriteFile(t, filepath.Join(dir, "a.lua"), remoteAddrScript)
			addr := "127.0.0.1:0"
			if tc.network == "unix" {
				addr = filepath.Join(dir, "act.sock")
			}
			ln, err := net.Listen(tc.network, addr)
			if err != nil {
				t.Fatal(err)
			}
			var f *os.File
			switch ln := ln.(type) {
			case *net.TCPListener:
				f, err = ln.File()
			case *net.UnixListener:
				ln.SetUnlinkOnClose(false) // the child owns the file now
				f, err = ln.File()
			}
			if err != nil {
				t.Fatal(err)
			}
			addr = ln.Addr().String()
			ln.Close()

			args := append([]string{"-c", `LISTEN_PID=$$ exec "$0" "$@"`, os.Args[0], "serve"}, tc.flags...)
			cmd := exec.Command("/bin/sh", append(args, script)...)
			cmd.Env = append(os.Environ(), childEnv+"=1", "LISTEN_FDS=1")
			cmd.ExtraFiles = []*os.File{f}
			cmd.Stderr = t.Output()
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			f.Close()
			exited := make(chan error, 1)
			lines := make(chan string, 4)
			go func() {
				sc := bufio.NewScanner(out)
				for sc.Scan() {
					lines <- sc.Text()
				}
				close(lines)
				io.Copy(io.Discard, out)
				exited <- cmd.Wait()
			}()
			t.Cleanup(func() {
				cmd.Process.Kill()
				<-exited
			})

			var line string
			select {
			case line = <-lines:
			case <-time.After(startTimeout):
				t.Fatalf("no listening line from the child after %v", startTimeout)
			}
			var c *websocket.Conn
			if tc.network == "unix" {
				if want := "luaws listening on ws+unix://" + addr + ":/ws"; line != want {
					t.Errorf("got %q, want %q", line, want)
				}
				c = dialUnix(t, addr, "/ws")
				if got := enginetest.ReadText(t, c); got != "@" {
					t.Errorf("remote_addr: got %q, want @", got)
				}
			} else {
				if want := "luaws listening on ws://" + addr + "/ws"; line != want {
					t.Errorf("got %q, want %q", line, want)
				}
				c = enginetest.Dial(t, "ws://"+addr+"/ws")
				if got := enginetest.ReadText(t, c); !strings.HasPrefix(got, "127.0.0.1:") {
					t.Errorf("remote_addr: got %q, want 127.0.0.1:PORT", got)
				}
			}
			enginetest.Echo(t, c, "activated")

			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-exited:
				exited <- err
				if err != nil {
					t.Errorf("child luaws serve after SIGTERM: %v, want exit 0", err)
				}
			case <-time.After(stopTimeout):
				t.Fatalf("child did not stop within %v", stopTimeout)
			}
		})
	}
}
