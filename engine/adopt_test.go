package engine_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/engine"
	"github.com/luaws/luaws/engine/enginetest"
)

// adoptAll accepts on a raw TCP listener of its own, reads the first bytes
// of each connection with read, and hands the connection with those bytes
// to srv.Adopt. srv is never given to Serve. It returns the listener's
// host:port and a channel of Adopt's results.
func adoptAll(t *testing.T, srv *engine.Server, read func(net.Conn) ([]byte, error)) (string, <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adopted := make(chan error, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.SetReadDeadline(time.Now().Add(enginetest.Timeout))
			initial, err := read(c)
			_ = c.SetReadDeadline(time.Time{})
			if err != nil {
				t.Errorf("reading the first bytes: %v", err)
				c.Close()
				continue
			}
			adopted <- srv.Adopt(c, initial)
		}
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), enginetest.Timeout)
		defer cancel()
		ln.Close()
		<-done
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: got %v, want nil", err)
		}
	})
	return ln.Addr().String(), adopted
}

// readN reads exactly n bytes.
func readN(n int) func(net.Conn) ([]byte, error) {
	return func(c net.Conn) ([]byte, error) {
		b := make([]byte, n)
		_, err := io.ReadFull(c, b)
		return b, err
	}
}

// readRequest reads up to the end of the request's header, one byte at a
// time, so that nothing after it is taken.
func readRequest(c net.Conn) ([]byte, error) {
	var b []byte
	one := make([]byte, 1)
	for !bytes.HasSuffix(b, []byte("\r\n\r\n")) {
		if _, err := c.Read(one); err != nil {
			return b, err
		}
		b = append(b, one[0])
	}
	return b, nil
}

func waitAdopted(t *testing.T, adopted <-chan error) error {
	t.Helper()
	select {
	case err := <-adopted:
		return err
	case <-time.After(enginetest.Timeout):
		t.Fatalf("Adopt did not return within %v", enginetest.Timeout)
		return nil
	}
}

// An adopted connection, whatever part of its upgrade request the caller
// had read, is served as an accepted one: messages both ways, its close
// handler, 1001 at Shutdown.
func TestAdopt(t *testing.T) {
	for _, tc := range []struct {
		name string
		read func(net.Conn) ([]byte, error)
	}{
		{"nothing read", readN(0)},
		{"one byte", readN(1)},
		{"the request line's start", readN(16)},
		{"the whole request", readRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder()
			rec.onMessage = echo
			srv, err := engine.New(mountOf(rec))
			if err != nil {
				t.Fatal(err)
			}
			addr, adopted := adoptAll(t, srv, tc.read)

			c := dial(t, "ws://"+addr+"/ws")
			if err := waitAdopted(t, adopted); err != nil {
				t.Fatalf("Adopt: got %v, want nil", err)
			}
			first := rec.waitOpen(t)
			enginetest.Echo(t, c, "hello")
			enginetest.Write(t, c, websocket.BinaryMessage, []byte{0, 1, 2})
			if typ, data := enginetest.Read(t, c); typ != websocket.BinaryMessage || !bytes.Equal(data, []byte{0, 1, 2}) {
				t.Errorf("got type %d %v, want binary [0 1 2]", typ, data)
			}
			if ra := first.Request().RemoteAddr; ra != c.LocalAddr().String() {
				t.Errorf("RemoteAddr: got %s, want the client's %s", ra, c.LocalAddr())
			}

			// The client closes: the close handler runs with its code.
			_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"), time.Now().Add(enginetest.Timeout))
			if e := rec.waitClose(t, first.ID()); e.code != websocket.CloseNormalClosure || e.reason != "bye" {
				t.Errorf("close handler: got %d %q, want 1000 \"bye\"", e.code, e.reason)
			}

			// Shutdown closes an adopted connection with 1001 and waits for
			// its close handler.
			c2 := dial(t, "ws://"+addr+"/ws")
			if err := waitAdopted(t, adopted); err != nil {
				t.Fatalf("Adopt: got %v, want nil", err)
			}
			second := rec.waitOpen(t)
			enginetest.Echo(t, c2, "still there")
			shut := make(chan error, 1)
			go func() { shut <- srv.Shutdown(context.Background()) }()
			if ce, _ := enginetest.ReadClose(t, c2); ce.Code != websocket.CloseGoingAway {
				t.Errorf("client got close %d, want 1001", ce.Code)
			}
			if err := <-shut; err != nil {
				t.Fatalf("Shutdown: got %v, want nil", err)
			}
			if n := rec.closeCount(second.ID()); n != 1 {
				t.Errorf("close handler ran %d times before Shutdown returned, want 1", n)
			}
		})
	}
}

// Bytes that are not an HTTP request get 400 and the connection is closed;
// after Shutdown, Adopt closes the connection and says so.
func TestAdoptRefused(t *testing.T) {
	rec := newRecorder()
	srv, err := engine.New(mountOf(rec))
	if err != nil {
		t.Fatal(err)
	}
	addr, adopted := adoptAll(t, srv, readN(4))

	t.Run("not HTTP", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte("\x16\x03\x01 this is no request\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
		if err := waitAdopted(t, adopted); err != nil {
			t.Fatalf("Adopt: got %v, want nil (the server answers)", err)
		}
		_ = c.SetReadDeadline(time.Now().Add(enginetest.Timeout))
		reply, err := io.ReadAll(c) // ends only when the server closes c
		if err != nil {
			t.Fatalf("read: got %v, want the reply then EOF", err)
		}
		if !strings.HasPrefix(string(reply), "HTTP/1.1 400 ") {
			t.Errorf("got %.60q, want a 400 reply", reply)
		}
	})

	t.Run("after Shutdown", func(t *testing.T) {
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		req := "GET /ws HTTP/1.1\r\nHost: x\r\n\r\n"
		if _, err := c.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
		if err := waitAdopted(t, adopted); !errors.Is(err, engine.ErrServerClosed) {
			t.Errorf("Adopt: got %v, want ErrServerClosed", err)
		}
		_ = c.SetReadDeadline(time.Now().Add(enginetest.Timeout))
		// EOF, or a reset: the server closed with the request unread.
		n, err := bufio.NewReader(c).Read(make([]byte, 1))
		var ne net.Error
		if n > 0 || errors.As(err, &ne) && ne.Timeout() || err == nil {
			t.Errorf("read: got %d bytes, %v; want EOF or a reset (closed)", n, err)
		}
	})
}
