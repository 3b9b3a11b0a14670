package luabind

import "testing"

func TestSnakeCase(t *testing.T) {
	tests := map[string]string{
		"SendBinary":  "send_binary",
		"ID":          "id",
		"RemoteAddr":  "remote_addr",
		"Send":        "send",
		"Subprotocol": "subprotocol",
		"HTTPServer":  "http_server",
	}
	for in, want := range tests {
		if got := snakeCase(in); got != want {
			t.Errorf("snakeCase(%q) = %q, want %q", in, got, want)
		}
	}
}
