package luajson

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// fuzzSeeds start FuzzRoundTrip: valid and invalid JSON, with the corners of
// the contract (null, [] and {}, big numbers, escapes, bad UTF-8, depth).
var fuzzSeeds = []string{
	`null`, `true`, `false`, `0`, `-0`, `1`, `-1`, `0.1`, `1e3`, `1E-7`, `1e21`, `1e400`, `-1e400`, `1e-400`,
	`9007199254740992`, `9007199254740993`, `123456789012345678901234567890`, `0.30000000000000004`,
	`""`, `"a"`, `"\"\\\/\b\f\n\r\t"`, `"\u0000\u001f"`, `"\u00e9"`, `"\ud83d\ude00"`, `"\ud800"`, `"\udc00\ud800"`,
	`"\ud800\u0041"`, `"\ud800\uzzzz"`, "\"\xff\"", "\"\xe2\x82\"", "\"\xed\xa0\x80\"", "\"\u2028\"",
	`[]`, `{}`, `[[]]`, `[{}]`, `{"a":[]}`, `{"a":{}}`, `[null]`, `[1,null,3]`, `{"a":null}`,
	`{"a":1,"a":2}`, `{"1":1,"2":2}`, `{"b":1,"a":2}`, "{\"\xff\":1}", `{"a\u0000":1}`,
	`{"type":"msg","room":"lobby","text":"hello there, how are you?"}`,
	` [ 1 , 2 ] `, "\t\n\r1\n",
	`[`, `]`, `{`, `}`, `[1,]`, `{"a":1,}`, `{"a" 1}`, `{a:1}`, `01`, `-`, `1.`, `.5`, `1e`, `+1`, `NaN`,
	`tru`, `nul`, `"abc`, `"\x"`, `"\u12"`, "\"\n\"", `[1] x`, `1 2`,
	strings.Repeat("[", 1000) + strings.Repeat("]", 1000),
	strings.Repeat("[", 1001) + strings.Repeat("]", 1001),
	strings.Repeat(`{"a":`, 1001) + "1" + strings.Repeat("}", 1001),
}

// FuzzRoundTrip checks that whatever Decode accepts, Encode accepts, and
// that decoding the encoding encodes identically. It also holds Decode to
// encoding/json:
//
//   - Decode accepts only what json.Valid accepts;
//   - Decode accepts what json.Valid accepts, except nesting deeper than 1000
//     (encoding/json allows 10000) and numbers beyond float64 (json.Valid
//     checks only syntax; json.Unmarshal rejects them too);
//   - the value Decode reads means what json.Unmarshal reads: the encoding
//     unmarshals to the value the input unmarshals to. Both read invalid
//     UTF-8 and lone surrogates inside strings as U+FFFD.
func FuzzRoundTrip(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	c := New(L)
	var mu sync.Mutex // one codec, reused to catch state left over between calls
	f.Fuzz(func(t *testing.T, data []byte) {
		mu.Lock()
		defer mu.Unlock()
		v, err := c.Decode(data)
		valid := json.Valid(data)
		if err != nil {
			var re *rangeError
			if valid && !errors.Is(err, errTooDeep) && !errors.As(err, &re) {
				t.Fatalf("Decode(%q): got error %v, want none (json.Valid accepts it)", data, err)
			}
			return
		}
		if !valid {
			t.Fatalf("Decode(%q): got no error, want one (json.Valid rejects it)", data)
		}
		enc, err := c.Encode(nil, v)
		if err != nil {
			t.Fatalf("Encode(Decode(%q)): got error %v, want none", data, err)
		}
		if !json.Valid(enc) {
			t.Fatalf("Encode(Decode(%q)): got invalid JSON %q", data, enc)
		}
		v2, err := c.Decode(enc)
		if err != nil {
			t.Fatalf("Decode(%q) (an encoding): got error %v, want none", enc, err)
		}
		enc2, err := c.Encode(nil, v2)
		if err != nil {
			t.Fatalf("Encode(Decode(%q)) (an encoding): got error %v, want none", enc, err)
		}
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("re-encoding of %q: got %q, want %q", data, enc2, enc)
		}
		var want, got any
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatalf("json.Unmarshal(%q): %v", data, err)
		}
		if err := json.Unmarshal(enc, &got); err != nil {
			t.Fatalf("json.Unmarshal(%q): %v", enc, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Encode(Decode(%q)) = %q: means %#v, want %#v", data, enc, got, want)
		}
	})
}
