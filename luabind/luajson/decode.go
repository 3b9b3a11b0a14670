package luajson

import (
	"errors"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	lua "github.com/yuin/gopher-lua"
)

// Decode errors. Syntax errors name the offending byte and its offset, counted
// in bytes from 0.
var (
	errUnexpectedEOF = errors.New("unexpected end of JSON input")
	errTooDeep       = errors.New("nesting too deep")
)

// syntaxError is a decode error at a byte offset of the input.
type syntaxError struct {
	msg    string
	offset int
}

func (e *syntaxError) Error() string {
	return e.msg + " at offset " + strconv.Itoa(e.offset)
}

// Unwrap lets errors.Is(err, errTooDeep) see through the offset.
func (e *syntaxError) Unwrap() error {
	if e.msg == errTooDeep.Error() {
		return errTooDeep
	}
	return nil
}

// rangeError is a well-formed number too large for a float64 (1e400).
type rangeError struct {
	num    string
	offset int
}

func (e *rangeError) Error() string {
	return "number " + e.num + " out of range at offset " + strconv.Itoa(e.offset)
}

// Key interning: object keys repeat from message to message, so short ones
// are kept and reused instead of allocated again.
const (
	maxInternedKeyLen = 32
	maxInternedKeys   = 1024

	maxInternedValueLen = 16
	maxInternedValues   = 1024
)

// smallInts holds the boxed lua.LNumber of 0..len-1, so that decoding the
// small integers every message carries does not allocate.
var smallInts = func() (a [1024]lua.LValue) {
	for i := range a {
		a[i] = lua.LNumber(i)
	}
	return a
}()

// strSafe reports the bytes that a JSON string may hold unescaped and that
// need no UTF-8 check: ASCII except control characters, '"' and '\\'.
var strSafe = func() (a [256]bool) {
	for i := 0x20; i < utf8.RuneSelf; i++ {
		a[i] = i != '"' && i != '\\'
	}
	return a
}()

// decoder is the state of one Decode call, kept in the Codec between calls
// to reuse its buffers.
type decoder struct {
	l       *lua.LState
	null    *lua.LUserData
	arrayMT *lua.LTable

	data  []byte
	pos   int
	depth int

	vals     []lua.LValue          // elements of the arrays and objects being parsed
	keys     []string              // keys of the objects being parsed
	scratch  []byte                // unescaped string being built
	interned map[string]string     // short object keys seen before
	values   map[string]lua.LValue // short string values seen before, boxed
}

// Decode parses one JSON value (surrounding whitespace allowed, trailing garbage is an error) into a Lua value.
// On error it returns lua.LNil and an error that says what is wrong and
// at which byte offset.
func (c *Codec) Decode(data []byte) (lua.LValue, error) {
	return c.dec.decode(data)
}

// decodeString decodes s without copying it: the decoder only reads its input
// and copies every string it keeps.
func (c *Codec) decodeString(s string) (lua.LValue, error) {
	return c.dec.decode(unsafe.Slice(unsafe.StringData(s), len(s)))
}

func (d *decoder) decode(data []byte) (lua.LValue, error) {
	d.data, d.pos, d.depth = data, 0, 0
	d.skipSpace()
	v, err := d.value()
	if err == nil {
		d.skipSpace()
		if d.pos < len(d.data) {
			err = d.invalid(d.pos)
		}
	}
	d.data = nil
	if cap(d.scratch) > maxScratch {
		d.scratch = nil
	}
	if cap(d.vals) > maxScratch/16 || cap(d.keys) > maxScratch/16 {
		// Kept for the next call only while small: one huge array or
		// object must not pin its element list.
		d.vals, d.keys = nil, nil
	}
	if err != nil {
		clear(d.vals)
		d.vals = d.vals[:0]
		clear(d.keys)
		d.keys = d.keys[:0]
		return lua.LNil, err
	}
	return v, nil
}

// invalid returns the error for an unexpected byte at i, or for the end of
// the input when i is past it.
func (d *decoder) invalid(i int) error {
	if i >= len(d.data) {
		return errUnexpectedEOF
	}
	return &syntaxError{msg: "invalid character " + quoteChar(d.data[i]), offset: i}
}

// quoteChar formats c like encoding/json does: 'x', '"', '\”, '\n', '\x01'.
func quoteChar(c byte) string {
	if c == '\'' {
		return `'\''`
	}
	if c == '"' {
		return `'"'`
	}
	if c >= utf8.RuneSelf {
		return "'\\x" + strconv.FormatUint(uint64(c), 16) + "'"
	}
	s := strconv.Quote(string(rune(c)))
	return "'" + s[1:len(s)-1] + "'"
}

func (d *decoder) skipSpace() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// value parses the value that starts at d.pos, which is not white space.
func (d *decoder) value() (lua.LValue, error) {
	if d.pos >= len(d.data) {
		return lua.LNil, errUnexpectedEOF
	}
	switch c := d.data[d.pos]; c {
	case '"':
		return d.strValue()
	case '{':
		return d.object()
	case '[':
		return d.array()
	case 't':
		return d.literal("true", lua.LTrue)
	case 'f':
		return d.literal("false", lua.LFalse)
	case 'n':
		return d.literal("null", d.null)
	default:
		if c == '-' || c-'0' < 10 {
			return d.number()
		}
		return lua.LNil, d.invalid(d.pos)
	}
}

func (d *decoder) literal(word string, v lua.LValue) (lua.LValue, error) {
	for i := 1; i < len(word); i++ {
		p := d.pos + i
		if p >= len(d.data) || d.data[p] != word[i] {
			return lua.LNil, d.invalid(p)
		}
	}
	d.pos += len(word)
	return v, nil
}

func isDigit(c byte) bool { return c-'0' < 10 }

// number parses a JSON number. Integers of up to 15 digits, the common case,
// are computed exactly without strconv.
func (d *decoder) number() (lua.LValue, error) {
	data := d.data
	start := d.pos
	i := start
	neg := false
	if data[i] == '-' {
		neg = true
		i++
		if i >= len(data) {
			return lua.LNil, errUnexpectedEOF
		}
	}
	var mant uint64
	digits := 0
	switch c := data[i]; {
	case c == '0':
		i++
	case c-'1' < 9:
		for i < len(data) && isDigit(data[i]) {
			mant = mant*10 + uint64(data[i]-'0')
			digits++
			i++
		}
	default:
		return lua.LNil, d.invalid(i)
	}
	integer := true
	if i < len(data) && data[i] == '.' {
		integer = false
		i++
		if i >= len(data) || !isDigit(data[i]) {
			return lua.LNil, d.invalid(i)
		}
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		integer = false
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i >= len(data) || !isDigit(data[i]) {
			return lua.LNil, d.invalid(i)
		}
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	}
	d.pos = i
	if integer && digits <= 15 {
		if !neg && mant < uint64(len(smallInts)) {
			return smallInts[mant], nil
		}
		f := float64(mant)
		if neg {
			f = -f
		}
		return lua.LNumber(f), nil
	}
	f, err := strconv.ParseFloat(string(data[start:i]), 64)
	if err != nil && math.IsInf(f, 0) {
		return lua.LNil, &rangeError{num: string(data[start:i]), offset: start}
	}
	return lua.LNumber(f), nil
}

// str parses the string that starts at d.pos (a '"') and returns its value.
func (d *decoder) str() (string, error) {
	data := d.data
	start := d.pos + 1
	i := start
	for i < len(data) {
		c := data[i]
		if strSafe[c] {
			i++
			continue
		}
		if c == '"' {
			d.pos = i + 1
			return string(data[start:i]), nil
		}
		if c < utf8.RuneSelf {
			break // escape or control character
		}
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size == 1 {
			break
		}
		i += size
	}
	if err := d.unescape(start, i); err != nil {
		return "", err
	}
	return string(d.scratch), nil
}

// strValue parses a string value. Short ones (type names, room names,
// statuses) repeat from message to message and are reused, boxed, instead
// of allocated again.
func (d *decoder) strValue() (lua.LValue, error) {
	data := d.data
	start := d.pos + 1
	i := start
	for i < len(data) && i-start <= maxInternedValueLen && strSafe[data[i]] {
		i++
	}
	if i-start > maxInternedValueLen || i >= len(data) || data[i] != '"' {
		s, err := d.str()
		if err != nil {
			return lua.LNil, err
		}
		return lua.LString(s), nil
	}
	d.pos = i + 1
	b := data[start:i]
	if v, ok := d.values[string(b)]; ok {
		return v, nil
	}
	s := string(b)
	v := lua.LValue(lua.LString(s))
	if d.values == nil {
		d.values = make(map[string]lua.LValue, 64)
	} else if len(d.values) >= maxInternedValues {
		clear(d.values)
	}
	d.values[s] = v
	return v, nil
}

// key parses an object key like str, reusing the string of a key seen before.
func (d *decoder) key() (string, error) {
	data := d.data
	start := d.pos + 1
	i := start
	for i < len(data) && strSafe[data[i]] {
		i++
	}
	var b []byte
	if i < len(data) && data[i] == '"' {
		d.pos = i + 1
		b = data[start:i]
	} else {
		if err := d.unescape(start, i); err != nil {
			return "", err
		}
		b = d.scratch
	}
	if len(b) > maxInternedKeyLen {
		return string(b), nil
	}
	if s, ok := d.interned[string(b)]; ok {
		return s, nil
	}
	s := string(b)
	if d.interned == nil {
		d.interned = make(map[string]string, 64)
	} else if len(d.interned) >= maxInternedKeys {
		clear(d.interned)
	}
	d.interned[s] = s
	return s, nil
}

// unescape decodes the string whose content starts at start, where data[start:i]
// is known to be plain, into d.scratch, and moves d.pos past its closing quote.
// Invalid UTF-8 and lone surrogates become U+FFFD, as encoding/json does.
func (d *decoder) unescape(start, i int) error {
	var err error
	d.scratch, err = d.unescapeInto(append(d.scratch[:0], d.data[start:i]...), i)
	return err
}

// unescapeInto appends to b the rest of the string from data[i:].
func (d *decoder) unescapeInto(b []byte, i int) ([]byte, error) {
	data := d.data
	for i < len(data) {
		c := data[i]
		switch {
		case c == '"':
			d.pos = i + 1
			return b, nil
		case c == '\\':
			i++
			if i >= len(data) {
				return b, errUnexpectedEOF
			}
			switch e := data[i]; e {
			case '"', '\\', '/':
				b = append(b, e)
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r, err := d.hex4(i + 1)
				if err != nil {
					return b, err
				}
				i += 4
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if i+2 < len(data) && data[i+1] == '\\' && data[i+2] == 'u' {
						if x, err := d.hex4(i + 3); err == nil {
							r2 = x
						}
					}
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						r = dec
						i += 6
					} else {
						r = utf8.RuneError
					}
				}
				b = utf8.AppendRune(b, r)
			default:
				return b, d.invalid(i)
			}
			i++
		case c < 0x20:
			return b, d.invalid(i)
		case c < utf8.RuneSelf:
			b = append(b, c)
			i++
		default:
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size == 1 {
				b = utf8.AppendRune(b, utf8.RuneError)
			} else {
				b = append(b, data[i:i+size]...)
			}
			i += size
		}
	}
	return b, errUnexpectedEOF
}

// hex4 reads the four hex digits of a \u escape at data[i:].
func (d *decoder) hex4(i int) (rune, error) {
	var r rune
	for j := i; j < i+4; j++ {
		if j >= len(d.data) {
			return 0, errUnexpectedEOF
		}
		c := d.data[j]
		switch {
		case c-'0' < 10:
			c -= '0'
		case c-'a' < 6:
			c -= 'a' - 10
		case c-'A' < 6:
			c -= 'A' - 10
		default:
			return 0, d.invalid(j)
		}
		r = r<<4 | rune(c)
	}
	return r, nil
}

func (d *decoder) enter() error {
	d.depth++
	if d.depth > maxDepth {
		return &syntaxError{msg: errTooDeep.Error(), offset: d.pos}
	}
	return nil
}

// open starts the array or object whose '[' or '{' is at d.pos, one level
// deeper, and reports whether it is empty (done): then its end byte has
// been read too.
func (d *decoder) open(end byte) (done bool, err error) {
	if err := d.enter(); err != nil {
		return false, err
	}
	d.pos++
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == end {
		d.pos++
		return true, nil
	}
	return false, nil
}

// next reads what follows an element of an array or an object: a ',' and
// the space after it, or end, the last element's (done).
func (d *decoder) next(end byte) (done bool, err error) {
	d.skipSpace()
	if d.pos >= len(d.data) {
		return false, errUnexpectedEOF
	}
	c := d.data[d.pos]
	d.pos++
	if c == end {
		return true, nil
	}
	if c != ',' {
		return false, d.invalid(d.pos - 1)
	}
	d.skipSpace()
	return false, nil
}

// array parses the array at d.pos. Its elements are collected on d.vals and
// then copied into a table of the exact size.
func (d *decoder) array() (lua.LValue, error) {
	done, err := d.open(']')
	if err != nil {
		return lua.LNil, err
	}
	base := len(d.vals)
	for !done {
		v, err := d.value()
		if err != nil {
			return lua.LNil, err
		}
		d.vals = append(d.vals, v)
		if done, err = d.next(']'); err != nil {
			return lua.LNil, err
		}
	}
	elems := d.vals[base:]
	t := d.l.CreateTable(len(elems), 0)
	for i, v := range elems {
		t.RawSetInt(i+1, v)
	}
	t.Metatable = d.arrayMT
	clear(elems)
	d.vals = d.vals[:base]
	d.depth--
	return t, nil
}

// object parses the object at d.pos. Its members are collected on d.keys and
// d.vals and then set, in order, into a table sized for them.
func (d *decoder) object() (lua.LValue, error) {
	done, err := d.open('}')
	if err != nil {
		return lua.LNil, err
	}
	base, kbase := len(d.vals), len(d.keys)
	for !done {
		if d.pos >= len(d.data) || d.data[d.pos] != '"' {
			return lua.LNil, d.invalid(d.pos)
		}
		k, err := d.key()
		if err != nil {
			return lua.LNil, err
		}
		d.skipSpace()
		if d.pos >= len(d.data) || d.data[d.pos] != ':' {
			return lua.LNil, d.invalid(d.pos)
		}
		d.pos++
		d.skipSpace()
		v, err := d.value()
		if err != nil {
			return lua.LNil, err
		}
		d.keys = append(d.keys, k)
		d.vals = append(d.vals, v)
		if done, err = d.next('}'); err != nil {
			return lua.LNil, err
		}
	}
	keys, vals := d.keys[kbase:], d.vals[base:]
	t := d.l.CreateTable(0, len(keys))
	for i, k := range keys {
		t.RawSetString(k, vals[i])
	}
	clear(keys)
	clear(vals)
	d.keys, d.vals = d.keys[:kbase], d.vals[:base]
	d.depth--
	return t, nil
}
