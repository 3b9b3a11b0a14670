package luabind

import "fmt"

// The serializers a mount can speak (Options.Serializer). With none, a
// message reaches the script as the string it came as and conn:send sends
// strings; with json, a text message is decoded to a Lua value before the
// message handler sees it (luajson), and conn:send and luaws.broadcast
// encode what they are given.
const (
	SerializerNone = "none"
	SerializerJSON = "json"
)

// CheckSerializer returns an error naming the choices unless name is a
// serializer luabind speaks ("" is none).
func CheckSerializer(name string) error {
	switch name {
	case "", SerializerNone, SerializerJSON:
		return nil
	}
	return fmt.Errorf("unknown serializer %q (want %s or %s)", name, SerializerNone, SerializerJSON)
}
