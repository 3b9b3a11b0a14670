package middleware

import (
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/luaws/luaws/engine"
)

// Env is what a middleware gets besides its settings.
type Env struct {
	// Mount is the mount path, for logs.
	Mount string
	// Logger is the mount's logger. Nil discards.
	Logger *slog.Logger
}

// factory builds a middleware from its settings.
type factory func(init *Init, env Env) (engine.Middleware, error)

var registry = map[string]factory{
	"access_log": newAccessLog,
	"real_ip":    newRealIP,
	"rate_limit": newRateLimit,
	"basic_auth": newBasicAuth,
	"bearer":     newBearer,
}

// Names returns the names of every middleware, sorted.
func Names() []string {
	return slices.Sorted(maps.Keys(registry))
}

// Known reports whether name is a middleware.
func Known(name string) bool {
	_, ok := registry[name]
	return ok
}

// New builds the middleware called name from its middleware_init table
// (nil when there is none). A bad or unknown setting is a *KeyError naming
// the key.
func New(name string, settings map[string]any, env Env) (engine.Middleware, error) {
	f, ok := registry[name]
	if !ok {
		return engine.Middleware{}, fmt.Errorf("unknown middleware %q (known: %s)", name, strings.Join(Names(), ", "))
	}
	if env.Logger == nil {
		env.Logger = slog.New(slog.DiscardHandler)
	}
	init := &Init{m: settings, used: map[string]bool{}}
	mw, err := f(init, env)
	if init.err != nil {
		return engine.Middleware{}, init.err
	}
	if err != nil {
		return engine.Middleware{}, err
	}
	if err := init.unknown(); err != nil {
		return engine.Middleware{}, err
	}
	mw.Name = name
	return mw, nil
}

// KeyError is a bad middleware_init setting.
type KeyError struct {
	// Key is the setting, e.g. "messages_per_second", or a dotted path into
	// it ("users.ann", "tokens.2"); "" when the error is about the whole table.
	Key string
	Msg string
	// Known lists the middleware's settings, for an unknown key.
	Known []string
}

// Error returns "key: message".
func (e *KeyError) Error() string {
	if e.Key == "" {
		return e.Msg
	}
	return e.Key + ": " + e.Msg
}

// Init holds one middleware's settings, as decoded from TOML (string,
// int64, float64, bool, []any, map[string]any). Its getters record the
// first bad value; New reports it, and any key no getter asked for.
type Init struct {
	m     map[string]any
	used  map[string]bool
	known []string
	err   *KeyError
}

func (in *Init) get(key string) (any, bool) {
	in.known = append(in.known, key)
	v, ok := in.m[key]
	if ok {
		in.used[key] = true
	}
	return v, ok
}

func (in *Init) fail(key, format string, args ...any) {
	if in.err == nil {
		in.err = &KeyError{Key: key, Msg: fmt.Sprintf(format, args...)}
	}
}

// Has reports whether key is set.
func (in *Init) Has(key string) bool {
	_, ok := in.m[key]
	return ok
}

func (in *Init) unknown() error {
	keys := slices.Sorted(maps.Keys(in.m))
	for _, k := range keys {
		if !in.used[k] {
			return &KeyError{Key: k, Msg: "unknown key", Known: slices.Compact(slices.Sorted(slices.Values(in.known)))}
		}
	}
	return nil
}

// Rate returns a positive number (per second), or def.
func (in *Init) Rate(key string, def float64) float64 {
	v, ok := in.get(key)
	if !ok {
		return def
	}
	var f float64
	switch v := v.(type) {
	case int64:
		f = float64(v)
	case float64:
		f = v
	default:
		in.fail(key, "want a positive number, got %s", Describe(v))
		return def
	}
	if f <= 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		in.fail(key, "want a positive number, got %s", Describe(v))
		return def
	}
	return f
}

// Count returns a whole number from 1, or def.
func (in *Init) Count(key string, def int) int {
	v, ok := in.get(key)
	if !ok {
		return def
	}
	n, ok := v.(int64)
	if !ok || n < 1 || n > 1<<31 {
		in.fail(key, "want a whole number from 1, got %s", Describe(v))
		return def
	}
	return int(n)
}

// String returns a non-empty string, or def.
func (in *Init) String(key, def string) string {
	v, ok := in.get(key)
	if !ok {
		return def
	}
	s, ok := v.(string)
	if !ok || s == "" {
		in.fail(key, "want a non-empty string, got %s", Describe(v))
		return def
	}
	return s
}

// Duration returns "30s" or a number of seconds, or def.
func (in *Init) Duration(key string, def time.Duration) time.Duration {
	v, ok := in.get(key)
	if !ok {
		return def
	}
	switch v := v.(type) {
	case string:
		if d, err := time.ParseDuration(v); err == nil && d > 0 {
			return d
		}
	case int64:
		if v > 0 {
			return time.Duration(v) * time.Second
		}
	case float64:
		if v > 0 {
			return time.Duration(v * float64(time.Second))
		}
	}
	in.fail(key, `want a duration such as "1m" or a number of seconds, got %s`, Describe(v))
	return def
}

// Strings returns an array of strings, or nil.
func (in *Init) Strings(key string) []string {
	v, ok := in.get(key)
	if !ok {
		return nil
	}
	arr, ok := v.([]any)
	if !ok {
		in.fail(key, "want an array of strings, got %s", Describe(v))
		return nil
	}
	out := make([]string, 0, len(arr))
	for i, e := range arr {
		s, ok := e.(string)
		if !ok {
			in.fail(key+"."+strconv.Itoa(i), "want a string, got %s", Describe(e))
			return nil
		}
		out = append(out, s)
	}
	return out
}

// StringMap returns a table of string values, or nil.
func (in *Init) StringMap(key string) map[string]string {
	v, ok := in.get(key)
	if !ok {
		return nil
	}
	t, ok := v.(map[string]any)
	if !ok {
		in.fail(key, "want a table of strings, got %s", Describe(v))
		return nil
	}
	out := make(map[string]string, len(t))
	for _, k := range slices.Sorted(maps.Keys(t)) {
		s, ok := t[k].(string)
		if !ok {
			in.fail(key+"."+k, "want a string, got %s", Describe(t[k]))
			return nil
		}
		out[k] = s
	}
	return out
}

// Describe names a setting's value for an error message ("want a string,
// got 3"): a string quoted, a number or a boolean as written, "an array",
// "a table", "nothing" for nil, or else its Go type.
func Describe(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	case nil:
		return "nothing"
	}
	return fmt.Sprintf("%T", v)
}
