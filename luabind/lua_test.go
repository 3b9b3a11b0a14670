package luabind_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/luaws/luaws/engine/enginetest"
)

// TestLua runs the Lua tests in testdata/lua/*_test.lua. Each is a script
// whose open handler runs its checks inside a real server VM (with a real
// conn, the luaws module and the json serializer) and sends "ok N" for N
// passed checks; a failing check raises, which closes the connection with
// 1011 and logs the check's file:line.
func TestLua(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "lua", "*_test.lua"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Lua tests in testdata/lua: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".lua"), func(t *testing.T) {
			var log enginetest.Buffer
			ts := newTestServer(t, file, serverOpts{serializer: "json", log: &log})
			c := ts.dial(t, "name=ann")
			c.SetReadDeadline(time.Now().Add(enginetest.Timeout))
			for {
				_, data, err := c.ReadMessage()
				if err != nil {
					t.Fatalf("%s: got %v, want \"ok N\"; the log says:\n%s", file, err, log.Lines("handler failed"))
				}
				if got := string(data); strings.HasPrefix(got, `"ok `) {
					t.Logf("%s: %s", file, data)
					return
				}
				// Something a check sent: skip it.
			}
		})
	}
}
