package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/coreos/go-systemd/v22/activation"
)

// listenSystemd is the --listen value that serves the socket systemd
// handed over (socket activation: LISTEN_FDS and LISTEN_PID).
const listenSystemd = "systemd"

// unixPrefix starts a --listen value that is a Unix socket's path.
const unixPrefix = "unix:"

// defaultSocketMode is the permission of a Unix socket luaws creates:
// its owner and group (a proxy in the group) may connect.
const defaultSocketMode fs.FileMode = 0o660

// activated reports whether systemd handed this process sockets, as
// sd_listen_fds(3) decides: LISTEN_PID is our pid and LISTEN_FDS is set.
func activated() bool {
	pid, err := strconv.Atoi(os.Getenv("LISTEN_PID"))
	return err == nil && pid == os.Getpid() && os.Getenv("LISTEN_FDS") != ""
}

// checkListen checks a listen address before anything starts: a Unix
// socket's folder must exist. It returns a message for the user, or "".
func checkListen(addr string) string {
	path, ok := strings.CutPrefix(addr, unixPrefix)
	if !ok {
		return ""
	}
	if path == "" {
		return "unix: wants a path, e.g. unix:/run/luaws/luaws.sock"
	}
	dir := filepath.Dir(path)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return fmt.Sprintf("%s: the folder %s does not exist", path, dir)
	}
	return ""
}

// listen opens the listener for addr: host:port over TCP, unix:PATH, or
// systemd for the one socket systemd passed.
func listen(addr string, mode fs.FileMode) (net.Listener, error) {
	switch {
	case addr == listenSystemd:
		return listenActivated()
	case strings.HasPrefix(addr, unixPrefix):
		return listenUnix(strings.TrimPrefix(addr, unixPrefix), mode)
	}
	return net.Listen("tcp", addr)
}

// listenActivated returns the socket systemd passed. luaws serves one
// listener, so more than one is an error that says which.
func listenActivated() (net.Listener, error) {
	if !activated() {
		return nil, errors.New("systemd: no socket was passed (LISTEN_PID and LISTEN_FDS are not set for this process); start luaws from a .socket unit")
	}
	lns, err := activation.Listeners()
	if err != nil {
		return nil, fmt.Errorf("systemd: %w", err)
	}
	var got []net.Listener
	for _, ln := range lns {
		if ln != nil {
			got = append(got, ln)
		}
	}
	switch len(got) {
	case 0:
		return nil, errors.New("systemd: the sockets passed are not stream sockets; use ListenStream= in the .socket unit")
	case 1:
		return peerNamed(got[0]), nil
	}
	for _, ln := range got {
		ln.Close()
	}
	return nil, fmt.Errorf("systemd: %d sockets passed, luaws serves one; give the .socket unit one ListenStream=", len(got))
}

// listenUnix listens on a Unix socket at path with the given mode. A
// socket file left by a process that is gone is removed; one that still
// answers is in use, and any other file is left alone.
func listenUnix(path string, mode fs.FileMode) (net.Listener, error) {
	if msg := checkListen(unixPrefix + path); msg != "" {
		return nil, errors.New(msg)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("%s exists and is not a socket; remove it or choose another path", path)
		}
		c, err := net.Dial("unix", path)
		if err == nil {
			c.Close()
			return nil, fmt.Errorf("%s is in use by another server", path)
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove stale socket: %w", err)
		}
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, mode); err != nil {
		ln.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return peerNamed(ln), nil
}

// peerNamed wraps a Unix listener so that a peer without a name, the
// usual client, has the address "@" (what ss(8) shows), so that
// req.remote_addr is never empty. Other listeners are returned as they are.
func peerNamed(ln net.Listener) net.Listener {
	if _, ok := ln.Addr().(*net.UnixAddr); !ok {
		return ln
	}
	return unixListener{ln}
}

type unixListener struct{ net.Listener }

func (l unixListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	uc, ok := c.(*net.UnixConn)
	if a, named := c.RemoteAddr().(*net.UnixAddr); !ok || named && a != nil && a.Name != "" {
		return c, nil
	}
	return unnamedPeer{uc}, nil
}

// unnamedPeer is a *net.UnixConn, SyscallConn and all (the engine's
// writer uses it), whose peer address is "@".
type unnamedPeer struct{ *net.UnixConn }

var atAddr = &net.UnixAddr{Name: "@", Net: "unix"}

func (unnamedPeer) RemoteAddr() net.Addr { return atAddr }

// listenURL is the URL base of a listener for the listening line:
// "ws://127.0.0.1:8080", or "ws+unix:///run/luaws.sock:" (the form of
// Node's ws client) for a Unix socket.
func listenURL(scheme string, addr net.Addr) string {
	if a, ok := addr.(*net.UnixAddr); ok {
		return scheme + "+unix://" + a.Name + ":"
	}
	return scheme + "://" + addr.String()
}
