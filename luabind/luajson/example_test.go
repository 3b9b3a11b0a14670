package luajson_test

import (
	"fmt"

	lua "github.com/yuin/gopher-lua"

	"github.com/luaws/luaws/luabind/luajson"
)

// Example decodes a message for a handler and encodes its reply, from Go and
// from Lua.
func Example() {
	L := lua.NewState()
	defer L.Close()
	c := luajson.New(L)

	v, err := c.Decode([]byte(`{"type":"join","rooms":[],"meta":{},"nick":null}`))
	if err != nil {
		panic(err)
	}
	out, err := c.Encode(nil, v)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(out))

	luaws := L.NewTable()
	c.Install(luaws)
	L.SetGlobal("luaws", luaws)
	err = L.DoString(`
		local msg = luaws.json.decode('{"text":"hi","to":[1,2]}')
		print(luaws.json.encode({echo = msg.text, to = msg.to, seen = luaws.array()}))
		print(luaws.json.decode('[1,'))
		print(pcall(function() return luaws.json.encode({f = print}) end))
	`)
	if err != nil {
		panic(err)
	}
	// Output:
	// {"type":"join","rooms":[],"meta":{},"nick":null}
	// {"echo":"hi","to":[1,2],"seen":[]}
	// nil	unexpected end of JSON input
	// false	<string>:5: bad argument #1 to encode (cannot encode a function)
}
