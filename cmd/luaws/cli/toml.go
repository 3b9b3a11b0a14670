package cli

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"

	"github.com/luaws/luaws/engine/middleware"
)

// ConfigError is a bad luaws.toml. It prints as one line naming the file,
// the line and the key: "luaws.toml:12: mount.workers: want ...".
type ConfigError struct {
	File string
	Line int    // 0 when the error is about the whole file
	Key  string // dotted, e.g. "mount.max_message_size"; "" for the whole file
	Msg  string
	Try  string // a hint for the next step, or ""
}

// Error returns "file:line: key: message".
func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// tomlDoc is a parsed luaws.toml: its values, and the line of every key,
// so that an error found after decoding can still name its line.
type tomlDoc struct {
	file  string
	root  map[string]any
	lines map[string]int // "mount.0.script" → line
	errs  []*ConfigError
}

// parseTOML parses src. A syntax error is a *ConfigError with its line.
func parseTOML(file string, src []byte) (*tomlDoc, error) {
	d := &tomlDoc{file: file, root: map[string]any{}}
	if err := toml.Unmarshal(src, &d.root); err != nil {
		var de *toml.DecodeError
		if errors.As(err, &de) {
			line, _ := de.Position()
			msg := strings.TrimPrefix(de.Error(), "toml: ")
			return nil, &ConfigError{File: file, Line: line, Msg: "bad TOML: " + msg}
		}
		return nil, &ConfigError{File: file, Msg: "bad TOML: " + err.Error()}
	}
	d.lines = indexLines(src)
	return d, nil
}

// indexLines maps every key path of the document to the line it is on.
// Paths join key parts with "."; an element of an array of tables or of an
// array adds its index: "mount.1.middleware_init.rate_limit.burst".
func indexLines(src []byte) map[string]int {
	lines := map[string]int{}
	arrays := map[string]int{} // array-of-tables path → count so far
	var p unstable.Parser
	p.Reset(src)
	lineOf := func(n *unstable.Node) int { return p.Shape(n.Raw).Start.Line }
	resolve := func(parts []string) []string {
		var out []string
		for _, part := range parts {
			out = append(out, part)
			if n, ok := arrays[strings.Join(out, ".")]; ok {
				out = append(out, strconv.Itoa(n-1))
			}
		}
		return out
	}
	var keyval func(n *unstable.Node, base []string)
	value := func(v *unstable.Node, path []string) {
		switch v.Kind {
		case unstable.InlineTable:
			it := v.Children()
			for it.Next() {
				keyval(it.Node(), path)
			}
		case unstable.Array:
			it := v.Children()
			for i := 0; it.Next(); i++ {
				e := it.Node()
				elem := append(slices.Clip(path), strconv.Itoa(i))
				if _, seen := lines[strings.Join(elem, ".")]; !seen {
					lines[strings.Join(elem, ".")] = lineOf(e)
				}
				if e.Kind == unstable.InlineTable || e.Kind == unstable.Array {
					// recurse for inline tables in arrays
					if e.Kind == unstable.InlineTable {
						c := e.Children()
						for c.Next() {
							keyval(c.Node(), elem)
						}
					}
				}
			}
		}
	}
	keyval = func(n *unstable.Node, base []string) {
		if n.Kind != unstable.KeyValue {
			return
		}
		path := slices.Clip(base)
		it := n.Key()
		line := 0
		for it.Next() {
			k := it.Node()
			if line == 0 {
				line = lineOf(k)
			}
			path = append(path, string(k.Data))
			if _, seen := lines[strings.Join(path, ".")]; !seen {
				lines[strings.Join(path, ".")] = line
			}
		}
		value(n.Value(), path)
	}
	var cur []string
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			var parts []string
			line := 0
			it := e.Key()
			for it.Next() {
				if line == 0 {
					line = lineOf(it.Node())
				}
				parts = append(parts, string(it.Node().Data))
			}
			if e.Kind == unstable.Table {
				cur = resolve(parts)
			} else {
				cur = append(resolve(parts[:len(parts)-1]), parts[len(parts)-1])
				key := strings.Join(cur, ".")
				arrays[key]++
				if _, seen := lines[key]; !seen {
					lines[key] = line
				}
				cur = append(cur, strconv.Itoa(arrays[key]-1))
			}
			lines[strings.Join(cur, ".")] = line
			// [a.b] defines a too, when nothing did before: an error
			// about a names this line.
			for i := 1; i < len(cur); i++ {
				if _, seen := lines[strings.Join(cur[:i], ".")]; !seen {
					lines[strings.Join(cur[:i], ".")] = line
				}
			}
		case unstable.KeyValue:
			keyval(e, cur)
		}
	}
	return lines
}

// table is one TOML table being decoded: it hands out its values by key,
// remembers which keys were read, and reports the rest as unknown.
type table struct {
	doc  *tomlDoc
	path []string // with array indices
	m    map[string]any
	used map[string]bool
}

func (d *tomlDoc) top() *table {
	return &table{doc: d, m: d.root, used: map[string]bool{}}
}

// pathOf returns the index path of key in t.
func (t *table) pathOf(key string) []string {
	return append(slices.Clip(t.path), key)
}

// line returns the line of the key path, or of its nearest parent.
func (d *tomlDoc) line(path []string) int {
	for i := len(path); i > 0; i-- {
		if l, ok := d.lines[strings.Join(path[:i], ".")]; ok {
			return l
		}
	}
	return 0
}

// displayKey drops array indices: "mount.0.script" → "mount.script".
func displayKey(path []string) string {
	var out []string
	for _, p := range path {
		if _, err := strconv.Atoi(p); err == nil {
			continue
		}
		if strings.ContainsAny(p, " ./\"") || p == "" {
			p = strconv.Quote(p)
		}
		out = append(out, p)
	}
	return strings.Join(out, ".")
}

// fail records an error about key path.
func (d *tomlDoc) fail(path []string, try string, format string, args ...any) {
	d.errs = append(d.errs, &ConfigError{File: d.file, Line: d.line(path), Key: displayKey(path),
		Msg: fmt.Sprintf(format, args...), Try: try})
}

// err returns the first recorded error by line, or nil.
func (d *tomlDoc) err() error {
	if len(d.errs) == 0 {
		return nil
	}
	first := d.errs[0]
	for _, e := range d.errs[1:] {
		if e.Line < first.Line {
			first = e
		}
	}
	return first
}

// failKey records an error about key of t.
func (t *table) fail(key, format string, args ...any) {
	t.doc.fail(t.pathOf(key), "", format, args...)
}

// get returns the raw value under key and marks it read.
func (t *table) get(key string) (any, bool) {
	v, ok := t.m[key]
	if ok {
		t.used[key] = true
	}
	return v, ok
}

// finish reports every key of t that was never read, naming the known keys.
func (t *table) finish(what string, known []string) {
	keys := make([]string, 0, len(t.m))
	for k := range t.m {
		if !t.used[k] {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		t.doc.fail(t.pathOf(k), hint(k, known, "the keys of "+what+" are: "), "unknown key")
	}
}

// hint is the Try of an unknown name w: "did you mean NEAR?" when w looks
// like a typo of one of known, or else list followed by every known name.
func hint(w string, known []string, list string) string {
	if near := nearest(w, known); near != "" {
		return "did you mean " + near + "?"
	}
	return list + strings.Join(known, ", ")
}

// nearest returns the known word closest to w if it is a likely typo.
func nearest(w string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := editDistance(w, k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// tomlType names a decoded value for error messages, as the middleware
// settings do, and dates and times as such.
func tomlType(v any) string {
	switch v.(type) {
	case time.Time, toml.LocalDate, toml.LocalDateTime, toml.LocalTime:
		return "a date or time"
	}
	return middleware.Describe(v)
}

// str reads a string.
func (t *table) str(key string, dst *string) {
	v, ok := t.get(key)
	if !ok {
		return
	}
	s, ok := v.(string)
	if !ok {
		t.fail(key, "want a string, got %s", tomlType(v))
		return
	}
	*dst = s
}

// boolean reads a bool.
func (t *table) boolean(key string, dst *bool) {
	v, ok := t.get(key)
	if !ok {
		return
	}
	b, ok := v.(bool)
	if !ok {
		t.fail(key, "want true or false, got %s", tomlType(v))
		return
	}
	*dst = b
}

// count reads a non-negative integer.
func (t *table) count(key string, dst *int) {
	v, ok := t.get(key)
	if !ok {
		return
	}
	n, ok := v.(int64)
	if !ok || n < 0 || n > 1<<31 {
		t.fail(key, "want a whole number from 0, got %s", tomlType(v))
		return
	}
	*dst = int(n)
}

// strings reads an array of strings.
func (t *table) strings(key string, dst *[]string) {
	v, ok := t.get(key)
	if !ok {
		return
	}
	arr, ok := v.([]any)
	if !ok {
		t.fail(key, "want an array of strings, got %s", tomlType(v))
		return
	}
	out := make([]string, 0, len(arr))
	for i, e := range arr {
		s, ok := e.(string)
		if !ok {
			t.doc.fail(append(t.pathOf(key), strconv.Itoa(i)), "", "want a string, got %s", tomlType(e))
			return
		}
		out = append(out, s)
	}
	*dst = out
}

// duration reads "1.5s", "250ms", a number of seconds, or "off" (stored
// as -1 when off is allowed).
func (t *table) duration(key string, dst *time.Duration, offOK bool) {
	v, ok := t.get(key)
	if !ok {
		return
	}
	want := `want a duration such as "30s" or "250ms", or a number of seconds`
	if offOK {
		want += `, or "off"`
	}
	switch v := v.(type) {
	case string:
		if offOK && v == "off" {
			*dst = -1
			return
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.fail(key, "%s, got %q", want, v)
			return
		}
		*dst = d
	case int64:
		if v <= 0 || v > 1<<31 {
			t.fail(key, "%s, got %d", want, v)
			return
		}
		*dst = time.Duration(v) * time.Second
	case float64:
		if v <= 0 || v > 1<<31 {
			t.fail(key, "%s, got %g", want, v)
			return
		}
		*dst = time.Duration(v * float64(time.Second))
	default:
		t.fail(key, "%s, got %s", want, tomlType(v))
	}
}

// size reads "64KiB" or a number of bytes.
func (t *table) size(key string, dst *int64) {
	v, ok := t.get(key)
	if !ok {
		return
	}
	switch v := v.(type) {
	case string:
		n, err := ParseSize(v)
		if err != nil {
			t.fail(key, "%v", err)
			return
		}
		*dst = n
	case int64:
		if v <= 0 {
			t.fail(key, "want a positive size such as \"64KiB\" or a number of bytes, got %d", v)
			return
		}
		*dst = v
	default:
		t.fail(key, "want a size such as \"64KiB\" or a number of bytes, got %s", tomlType(v))
	}
}

// sub returns the table under key, or nil if absent (or not a table, which
// is reported).
func (t *table) sub(key string) *table {
	v, ok := t.get(key)
	if !ok {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		t.fail(key, "want a table, got %s", tomlType(v))
		return nil
	}
	return &table{doc: t.doc, path: t.pathOf(key), m: m, used: map[string]bool{}}
}

// tables returns the array of tables under key ([[mount]]).
func (t *table) tables(key string) []*table {
	v, ok := t.get(key)
	if !ok {
		return nil
	}
	var arr []any
	switch v := v.(type) {
	case []any:
		arr = v
	case []map[string]any:
		for _, m := range v {
			arr = append(arr, m)
		}
	default:
		t.fail(key, "want [[%s]] tables, got %s", key, tomlType(v))
		return nil
	}
	out := make([]*table, 0, len(arr))
	for i, e := range arr {
		m, ok := e.(map[string]any)
		if !ok {
			t.doc.fail(append(t.pathOf(key), strconv.Itoa(i)), "", "want a table, got %s", tomlType(e))
			continue
		}
		out = append(out, &table{doc: t.doc, path: append(t.pathOf(key), strconv.Itoa(i)), m: m, used: map[string]bool{}})
	}
	return out
}

// keys returns t's keys in document order (by line, then name).
func (t *table) keys() []string {
	keys := make([]string, 0, len(t.m))
	for k := range t.m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		la, lb := t.doc.line(t.pathOf(a)), t.doc.line(t.pathOf(b))
		if la != lb {
			return la - lb
		}
		return strings.Compare(a, b)
	})
	return keys
}

// fileExists reports a missing or unreadable file under key.
func (t *table) fileExists(key, path string) bool {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		t.fail(key, "%s: no such file", path)
	case err != nil:
		t.fail(key, "%s: %v", path, errors.Unwrap(err))
	case st.IsDir():
		t.fail(key, "%s is a directory, want a file", path)
	default:
		return true
	}
	return false
}
