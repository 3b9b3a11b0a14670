package chat_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/luaws/luaws/examples/internal/exampletest"
)

// browserBudget bounds each browser test, Chromium's start included.
const browserBudget = 25 * time.Second

// openAndJoin opens the page in tab, fills in the form and waits until the page
// says it is connected.
func openAndJoin(t *testing.T, tab *exampletest.Tab, srv *exampletest.Server, name, room string) {
	t.Helper()
	tab.Open(srv.HTTP("/"))
	tab.Fill("name", name)
	tab.Fill("room", room)
	tab.Click("join")
	waitConnected(tab, 1)
	tab.WaitText("where", "#"+room)
}

// waitConnected waits until the page has opened its n-th socket and been
// welcomed on it.
func waitConnected(tab *exampletest.Tab, n int) {
	tab.WaitFor(fmt.Sprintf("socket %d to be welcomed", n),
		fmt.Sprintf(`window.chat.connects >= %d && window.chat.id > 0 && document.getElementById("status").dataset.state === "open"`, n))
}

// say types text into the composer and sends it.
func say(tab *exampletest.Tab, text string) {
	tab.WaitFor("the composer to be enabled", `!document.getElementById("text").disabled`)
	tab.Fill("text", text)
	tab.Click("send")
}

// Two tabs join the same room: each sees the other in the presence list,
// and what one says the other shows.
func TestBrowserTwoTabs(t *testing.T) {
	srv := startChat(t)
	b := exampletest.NewBrowser(t, browserBudget)
	ann, bob := b.Tab("ann"), b.Tab("bob")

	openAndJoin(t, ann, srv, "ann", "garden")
	openAndJoin(t, bob, srv, "bob", "garden")
	ann.WaitText("people", "bob")
	ann.WaitText("messages", "bob joined")
	bob.WaitText("people", "ann")

	say(ann, "hello from ann")
	bob.WaitText("messages", "hello from ann")
	ann.WaitText("messages", "hello from ann")

	say(bob, "hi ann, bob here")
	ann.WaitText("messages", "hi ann, bob here")

	// bob leaves for another room: ann sees it, and the presence list follows.
	bob.Fill("new-room", "kitchen")
	bob.Click("room-go")
	bob.WaitText("where", "#kitchen")
	ann.WaitText("messages", "bob left")
	ann.WaitFor("bob to leave the presence list", `!document.getElementById("people").textContent.includes("bob")`)
}

// The server restarts on the same address; both pages reconnect on their
// own, without a page reload, and the chat works again.
func TestBrowserReconnect(t *testing.T) {
	srv := startChat(t)
	b := exampletest.NewBrowser(t, browserBudget)
	ann, bob := b.Tab("ann"), b.Tab("bob")
	openAndJoin(t, ann, srv, "ann", "garden")
	openAndJoin(t, bob, srv, "bob", "garden")
	// A marker that a page reload would lose.
	for _, tab := range []*exampletest.Tab{ann, bob} {
		exampletest.Eval[bool](tab, `window.notReloaded = true`)
	}

	srv.Restart()

	for _, tab := range []*exampletest.Tab{ann, bob} {
		waitConnected(tab, 2)
		tab.WaitText("messages", "reconnected to #garden")
		if !exampletest.Eval[bool](tab, `window.notReloaded === true`) {
			t.Errorf("the page was reloaded; it should reconnect by itself")
		}
	}
	ann.WaitText("people", "bob")
	say(bob, "back again")
	ann.WaitText("messages", "back again")
}

// A script reload changes what the page receives, without a page reload
// and without a reconnect.
func TestBrowserReload(t *testing.T) {
	// The example's own scripts, in a folder the test may rewrite.
	dir := t.TempDir()
	for _, name := range []string{"chat.lua", "rooms.lua"} {
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), src, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	script := filepath.Join(dir, "chat.lua")
	srv := exampletest.Serve(t, "--serializer", "json", "--static", "public", script)
	b := exampletest.NewBrowser(t, browserBudget)
	ann := b.Tab("ann")
	openAndJoin(t, ann, srv, "ann", "garden")
	exampletest.Eval[bool](ann, `window.notReloaded = true`)
	say(ann, "quiet please")
	ann.WaitText("messages", "quiet please")

	// The new version shouts: what is said comes back in capitals.
	src, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	const tail = "\nreturn M\n"
	if !strings.HasSuffix(string(src), tail) {
		t.Fatalf("chat.lua does not end with %q; update this test", tail)
	}
	shouting := strings.TrimSuffix(string(src), tail) + `
local message = M.message
function M.message(conn, msg)
  if type(msg) == "table" and type(msg.text) == "string" then msg.text = msg.text:upper() end
  return message(conn, msg)
end
return M
`
	if err := os.WriteFile(script, []byte(shouting), 0o644); err != nil {
		t.Fatal(err)
	}
	ann.WaitText("messages", "the chat script was reloaded")
	say(ann, "now we shout")
	ann.WaitText("messages", "NOW WE SHOUT")
	if got := exampletest.Eval[int](ann, `window.chat.connects`); got != 1 {
		t.Errorf("the page opened %d sockets, want 1: a reload must not drop the connection", got)
	}
	if !exampletest.Eval[bool](ann, `window.notReloaded === true`) {
		t.Errorf("the page was reloaded")
	}
}
