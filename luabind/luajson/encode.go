package luajson

import (
	"errors"
	"math"
	"strconv"
	"unicode/utf8"

	lua "github.com/yuin/gopher-lua"
)

// Encode errors.
var (
	errCycle      = errors.New("cannot encode a cyclic table")
	errNaN        = errors.New("cannot encode NaN")
	errPosInf     = errors.New("cannot encode +Inf")
	errNegInf     = errors.New("cannot encode -Inf")
	errArrayKey   = errors.New("array has non-integer key")
	errArrayIndex = errors.New("array has an index out of range")
	errTooLarge   = errors.New("result too large")
)

// encoder is the state of one Encode call, kept in the Codec between calls.
type encoder struct {
	null    *lua.LUserData
	arrayMT *lua.LTable

	// open holds the tables being encoded, outermost first: a table met
	// again while it is open is a cycle, and len(open) is the depth.
	open []*lua.LTable

	// limit is the largest len of the output buffer (what was in dst plus
	// the encoding) before the call fails; 0 means no limit.
	limit int
}

// Encode appends the JSON encoding of v to dst.
// On error it returns dst unchanged (its first len(dst) bytes) and an error
// that names what could not be encoded.
func (c *Codec) Encode(dst []byte, v lua.LValue) ([]byte, error) {
	n := len(dst)
	c.enc.limit = 0
	if c.maxSize > 0 {
		c.enc.limit = n + c.maxSize
	}
	out, err := c.enc.value(dst, v)
	clear(c.enc.open)
	c.enc.open = c.enc.open[:0]
	if err != nil {
		return dst[:n], err
	}
	return out, nil
}

func (e *encoder) value(b []byte, v lua.LValue) ([]byte, error) {
	if e.limit > 0 && len(b) > e.limit {
		return b, errTooLarge
	}
	switch v := v.(type) {
	case lua.LString:
		if e.limit > 0 && len(b)+len(v) > e.limit {
			return b, errTooLarge
		}
		return appendString(b, string(v)), nil
	case lua.LNumber:
		return appendNumber(b, float64(v))
	case *lua.LTable:
		return e.table(b, v)
	case lua.LBool:
		if v {
			return append(b, "true"...), nil
		}
		return append(b, "false"...), nil
	case *lua.LNilType, nil:
		return append(b, "null"...), nil
	case *lua.LUserData:
		if v == e.null {
			return append(b, "null"...), nil
		}
	}
	return b, typeError(v.Type(), "")
}

// typeError is the error for a value, or a table key when what is " key",
// of a type JSON has no room for.
func typeError(t lua.LValueType, what string) error {
	return errors.New("cannot encode a " + t.String() + what)
}

func (e *encoder) table(b []byte, t *lua.LTable) ([]byte, error) {
	for _, o := range e.open {
		if o == t {
			return b, errCycle
		}
	}
	if len(e.open) >= maxDepth {
		return b, errTooDeep
	}
	e.open = append(e.open, t)
	b, err := e.members(b, t)
	e.open = e.open[:len(e.open)-1]
	return b, err
}

// members writes t as an array or an object. MaxN and one call of Next tell
// cheaply whether all of t is in its array part; the array part is a
// sequence when it has no holes, which is checked while it is written.
func (e *encoder) members(b []byte, t *lua.LTable) ([]byte, error) {
	marked := t.Metatable == lua.LValue(e.arrayMT)
	n := t.MaxN()
	var hashKey, hashVal lua.LValue
	if n > 0 {
		hashKey, hashVal = t.Next(boxInt(n))
	} else {
		// Next(0) skips the first hashed key; start from nil instead.
		hashKey, hashVal = t.Next(lua.LNil)
	}
	if hashKey != lua.LNil {
		if marked {
			if k, ok := hashKey.(lua.LNumber); ok && float64(k) == math.Trunc(float64(k)) {
				return b, errArrayIndex
			}
			return b, errArrayKey
		}
		return e.object(b, t, n, hashKey, hashVal)
	}
	if n == 0 {
		if marked {
			return append(b, "[]"...), nil
		}
		return append(b, "{}"...), nil
	}
	start := len(b)
	b = append(b, '[')
	for i := 1; i <= n; i++ {
		if i > 1 {
			b = append(b, ',')
		}
		v := t.RawGetInt(i)
		if v == lua.LNil {
			if !marked {
				// Keys 1..n with a hole: not a sequence.
				return e.object(b[:start], t, n, lua.LNil, lua.LNil)
			}
			b = append(b, "null"...)
			continue
		}
		var err error
		if b, err = e.value(b, v); err != nil {
			return b, err
		}
	}
	return append(b, ']'), nil
}

// object writes t as an object, its members in t's iteration order: the
// array part 1..n, then the hashed keys, from first (whose value is firstVal),
// in the order they were first set.
func (e *encoder) object(b []byte, t *lua.LTable, n int, first, firstVal lua.LValue) ([]byte, error) {
	start := len(b)
	b = append(b, '{')
	var err error
	for i := 1; i <= n; i++ {
		if v := t.RawGetInt(i); v != lua.LNil {
			if b, err = e.member(b, boxInt(i), v); err != nil {
				return b, err
			}
		}
	}
	for k, v := first, firstVal; k != lua.LNil; {
		if b, err = e.member(b, k, v); err != nil {
			return b, err
		}
		k, v = t.Next(k)
		if k == first || isArrayIndex(k, n) {
			// An integer key that Go code put in the hash part
			// (RawSetH(LNumber(1), v)) sends LTable.Next round in
			// circles; walk the table's maps instead.
			return e.objectForEach(b[:start], t)
		}
	}
	return append(b, '}'), nil
}

// boxInt returns i as a lua.LValue, without allocating when it is small.
func boxInt(i int) lua.LValue {
	if uint(i) < uint(len(smallInts)) {
		return smallInts[i]
	}
	return lua.LNumber(i)
}

// isArrayIndex reports whether k is one of the integer keys 1..n.
func isArrayIndex(k lua.LValue, n int) bool {
	f, ok := k.(lua.LNumber)
	return ok && f >= 1 && f <= lua.LNumber(n) && f == lua.LNumber(math.Trunc(float64(f)))
}

// objectForEach writes t as an object in ForEach order, which is random for
// hashed keys but visits each key once whatever the table holds.
func (e *encoder) objectForEach(b []byte, t *lua.LTable) ([]byte, error) {
	b = append(b, '{')
	var err error
	t.ForEach(func(k, v lua.LValue) {
		if err == nil {
			b, err = e.member(b, k, v)
		}
	})
	if err != nil {
		return b, err
	}
	return append(b, '}'), nil
}

// member writes the object member k: v, preceded by a comma unless it is the
// first one (b ends with '{').
func (e *encoder) member(b []byte, k, v lua.LValue) ([]byte, error) {
	if b[len(b)-1] != '{' {
		b = append(b, ',')
	}
	switch k := k.(type) {
	case lua.LString:
		b = appendString(b, string(k))
	case lua.LNumber:
		var err error
		b = append(b, '"')
		if b, err = appendNumber(b, float64(k)); err != nil {
			return b, err
		}
		b = append(b, '"')
	default:
		return b, typeError(k.Type(), " key")
	}
	b = append(b, ':')
	return e.value(b, v)
}

// appendNumber writes f as encoding/json does: integers up to 2^53 without
// exponent or point, other values in the shortest form that round-trips,
// with an exponent only below 1e-6 or from 1e21 up.
func appendNumber(b []byte, f float64) ([]byte, error) {
	if f == math.Trunc(f) && math.Abs(f) <= 1<<53 {
		return strconv.AppendInt(b, int64(f), 10), nil
	}
	switch {
	case math.IsNaN(f):
		return b, errNaN
	case math.IsInf(f, 1):
		return b, errPosInf
	case math.IsInf(f, -1):
		return b, errNegInf
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs < 1e-6 || abs >= 1e21 {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// Clean up e-09 to e-9.
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string: '"', '\\' and control characters
// escaped, other UTF-8 as is, each byte of invalid UTF-8 as \ufffd.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if strSafe[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
