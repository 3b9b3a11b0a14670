package rpc_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/luaws/luaws/examples/internal/exampletest"
)

func TestRPC(t *testing.T) {
	srv := exampletest.Serve(t, "--serializer", "json", "rpc.lua")
	c := srv.Dial(t, "/ws", nil)
	for _, tc := range []struct {
		name, send, want string
	}{
		{"add", `{"id":1,"method":"add","params":[1,2]}`, `{"id":1,"result":3}`},
		{"add many", `{"id":2,"method":"add","params":[1,2,3,4.5]}`, `{"id":2,"result":10.5}`},
		{"string id", `{"id":"a-7","method":"add","params":[40,2]}`, `{"id":"a-7","result":42}`},
		{"big integers", `{"id":3,"method":"add","params":[9007199254740990,1]}`, `{"id":3,"result":9007199254740991}`},
		{"divide", `{"id":4,"method":"divide","params":[7,2]}`, `{"id":4,"result":3.5}`},
		{"upper", `{"id":5,"method":"upper","params":["héllo"]}`, `{"id":5,"result":"HÉLLO"}`},
		{"echo", `{"id":6,"method":"echo","params":{"a":[],"b":{},"c":null}}`, `{"id":6,"result":{"a":[],"b":{},"c":null}}`},
		{"echo nothing", `{"id":7,"method":"echo"}`, `{"id":7,"result":null}`},
		{"whoami", `{"id":8,"method":"whoami"}`, `{"id":8,"result":{"id":1,"calls":9}}`},

		{"unknown method", `{"id":9,"method":"nope"}`,
			`{"id":9,"error":{"code":-32601,"message":"method not found: nope"}}`},
		{"bad params", `{"id":10,"method":"add","params":["one",2]}`,
			`{"id":10,"error":{"code":-32602,"message":"add takes a list of numbers"}}`},
		{"no params", `{"id":11,"method":"add"}`,
			`{"id":11,"error":{"code":-32602,"message":"add takes a list of numbers"}}`},
		{"wrong count", `{"id":12,"method":"divide","params":[1]}`,
			`{"id":12,"error":{"code":-32602,"message":"divide takes two numbers"}}`},
		{"application error", `{"id":13,"method":"divide","params":[1,0]}`,
			`{"id":13,"error":{"code":1,"message":"division by zero"}}`},
		{"a bug in a method", `{"id":15,"method":"broken","params":{}}`,
			`{"id":15,"error":{"code":-32603,"message":"internal error"}}`},
		{"no method", `{"id":14}`,
			`{"id":14,"error":{"code":-32600,"message":"invalid request: method must be a string"}}`},
		{"no id", `{"method":"add","params":[1,2]}`,
			`{"id":null,"error":{"code":-32600,"message":"invalid request: id must be a number or a string"}}`},
		{"not an object", `[1,2]`,
			`{"id":null,"error":{"code":-32600,"message":"invalid request: send a JSON object"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := c.WriteMessage(websocket.TextMessage, []byte(tc.send)); err != nil {
				t.Fatal(err)
			}
			got := readAny(t, c)
			var want any
			if err := json.Unmarshal([]byte(tc.want), &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s\ngot  %v\nwant %v", tc.send, got, want)
			}
		})
	}
}

func TestRPCParseError(t *testing.T) {
	srv := exampletest.Serve(t, "--serializer", "json", "rpc.lua")
	c := srv.Dial(t, "/ws", nil)
	if err := c.WriteMessage(websocket.TextMessage, []byte(`{"id":1,"method":`)); err != nil {
		t.Fatal(err)
	}
	got := readAny(t, c).(map[string]any)
	e, _ := got["error"].(map[string]any)
	if got["id"] != nil || e == nil || e["code"] != -32700.0 {
		t.Errorf("got %v, want id null and error code -32700", got)
	}
	// The connection stays usable.
	if err := c.WriteMessage(websocket.TextMessage, []byte(`{"id":2,"method":"add","params":[2,2]}`)); err != nil {
		t.Fatal(err)
	}
	if got := readAny(t, c); !reflect.DeepEqual(got, map[string]any{"id": 2.0, "result": 4.0}) {
		t.Errorf("after a parse error: got %v, want id 2 result 4", got)
	}
}

// Many requests in flight: every reply carries its request's id.
func TestRPCPipelined(t *testing.T) {
	srv := exampletest.Serve(t, "--serializer", "json", "rpc.lua")
	c := srv.Dial(t, "/ws", nil)
	const n = 200
	for i := range n {
		if err := c.WriteJSON(map[string]any{"id": i, "method": "add", "params": []int{i, i}}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		got := readAny(t, c).(map[string]any)
		if got["id"] != float64(i) || got["result"] != float64(2*i) {
			t.Fatalf("reply %d: got %v, want id %d result %d", i, got, i, 2*i)
		}
	}
}

func readAny(t *testing.T, c *websocket.Conn) any {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(exampletest.ReadTimeout))
	_, data, err := c.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("reply %s: %v", data, err)
	}
	return v
}
