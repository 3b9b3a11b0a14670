package engine

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
)

func TestPackedHeader(t *testing.T) {
	tests := []struct {
		name string
		h    http.Header
	}{
		{"none", http.Header{}},
		{"one", http.Header{"Host": {"example.com"}}},
		{"repeated", http.Header{"Cookie": {"a=1", "b=2"}, "X-Empty": {""}}},
		{"long value", http.Header{"X-Long": {strings.Repeat("v", 70000)}}}, // a length of three varint bytes
		{"odd bytes", http.Header{"X-Bytes": {"\x00\x80\xff ünï"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := packHeader(tt.h).unpack()
			if !reflect.DeepEqual(got, tt.h) {
				t.Errorf("unpack(pack(h)) = %q, want %q", got, tt.h)
			}
		})
	}
}

func TestRequestQueryAndHeaderAreCopies(t *testing.T) {
	r := &Request{rawQuery: "user=ann&user=bob&x", header: packHeader(http.Header{"X-Test": {"yes"}})}
	q := r.Query()
	q.Set("user", "eve")
	if got := r.Query()["user"]; !reflect.DeepEqual(got, []string{"ann", "bob"}) {
		t.Errorf("Query()[user] = %q after changing a copy, want [ann bob]", got)
	}
	if !r.Query().Has("x") {
		t.Error(`Query() lost the key "x" without a value`)
	}
	h := r.Header()
	h.Set("X-Test", "no")
	if got := r.Header().Get("X-Test"); got != "yes" {
		t.Errorf("Header().Get(X-Test) = %q after changing a copy, want yes", got)
	}
}
