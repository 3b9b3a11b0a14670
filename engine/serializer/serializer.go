// Package serializer names the wire formats a mount can speak and
// implements them for Go values.
//
// The Lua side converts JSON straight to Lua tables (luabind/luajson); this
// package serves Go handlers and says which frame type a format uses.
package serializer

import (
	"encoding/json"
	"fmt"

	"github.com/gorilla/websocket"
)

// Serializer names.
const (
	None = "none"
	JSON = "json"
)

// Serializer turns values into message payloads and back.
// Implementations are safe for concurrent use.
type Serializer interface {
	// Name is the name used in flags and config.
	Name() string
	// FrameType is the frame type of encoded messages (websocket.TextMessage).
	FrameType() int
	// Marshal encodes v.
	Marshal(v any) ([]byte, error)
	// Unmarshal decodes data into v.
	Unmarshal(data []byte, v any) error
}

// Lookup returns the serializer called name.
func Lookup(name string) (Serializer, error) {
	switch name {
	case None, "":
		return noneSerializer{}, nil
	case JSON:
		return jsonSerializer{}, nil
	}
	return nil, fmt.Errorf("unknown serializer %q (want none or json)", name)
}

type noneSerializer struct{}

func (noneSerializer) Name() string   { return None }
func (noneSerializer) FrameType() int { return websocket.TextMessage }

func (noneSerializer) Marshal(v any) ([]byte, error) {
	switch v := v.(type) {
	case string:
		return []byte(v), nil
	case []byte:
		return v, nil
	}
	return nil, fmt.Errorf("serializer none sends strings only, got %T", v)
}

func (noneSerializer) Unmarshal(data []byte, v any) error {
	switch p := v.(type) {
	case *string:
		*p = string(data)
	case *[]byte:
		*p = append((*p)[:0], data...)
	default:
		return fmt.Errorf("serializer none decodes into *string or *[]byte, got %T", v)
	}
	return nil
}

type jsonSerializer struct{}

func (jsonSerializer) Name() string                       { return JSON }
func (jsonSerializer) FrameType() int                     { return websocket.TextMessage }
func (jsonSerializer) Marshal(v any) ([]byte, error)      { return json.Marshal(v) }
func (jsonSerializer) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }
