// Package luajson converts JSON text straight to and from the values of one
// gopher-lua state, with no intermediate map[string]any.
//
// It owns the JSON side of luaws: the luaws.json module (encode and decode),
// the luaws.null sentinel and the luaws.array marker. The engine's json
// serializer and the Lua API both go through a [Codec], so a message decoded
// for a handler and a value sent back agree on null, [] and {}.
//
// # Mapping
//
//	JSON            Lua
//	null            the state's null sentinel ([Codec.Null]); Lua nil encodes as null too
//	true, false     boolean
//	number          number (float64); integers up to 2^53 round-trip as text
//	string          string (invalid UTF-8 and lone surrogates become U+FFFD)
//	[...]           table with keys 1..n, marked as an array ([Codec.MarkArray])
//	{...}           table with string keys; duplicate keys: the last one wins
//
// A table encodes as an array when it carries the array marker, or when its
// keys are exactly 1..n (n >= 1); otherwise it encodes as an object, with
// number keys written as decimal strings. An unmarked empty table is {}.
// Object members come out in the table's insertion order, so a decoded
// object re-encodes in its original order.
//
// Encode and Decode refuse nesting deeper than 1000 containers, cyclic
// tables, NaN and ±Inf, functions, userdata other than null, threads and
// channels. Errors are returned, never panicked; the Lua functions follow
// luaws conventions: encode raises on misuse, decode returns nil, err.
//
// # Concurrency
//
// A Codec belongs to one *lua.LState (and the coroutines sharing its
// globals) and, like the LState, is not safe for concurrent use. It keeps
// scratch buffers between calls so that the hot path allocates only the Lua
// values it returns.
//
// # Dependencies
//
// The package imports only the standard library and gopher-lua: no
// encoding/json, no reflection.
package luajson
