// Package luatypes holds the LuaLS (lua-language-server) definitions of
// the luaws Lua API that `luaws types` writes into a project, so that an
// editor completes and checks scripts and their tests. The definitions
// are hand-written in luaws.lua; tests in luabind and luabind/scripttest
// fail when the code has a name they lack, or they have one the code
// lacks.
package luatypes

import (
	_ "embed"
	"regexp"
	"slices"
	"strings"
)

// Definitions is the text of luaws.lua: a `---@meta` file describing the
// luaws module, the conn object, the handshake's req, the handlers and the
// harness of `luaws test`.
//
//go:embed luaws.lua
var Definitions []byte

// File is the name `luaws types` gives the definitions.
const File = "luaws.lua"

// Defs is what [Parse] reads from the definitions.
type Defs struct {
	// Classes maps each ---@class to its members: its ---@field names and
	// the names defined on the table it is bound to (function t.f(),
	// function t:m(), t.k = ...), sorted.
	Classes map[string][]string
	// Tables maps the Lua expression a class is bound to (the line right
	// after its ---@class block: "local conn = {}", "luaws.log = {}") to
	// the class.
	Tables map[string]string
}

var (
	classLine = regexp.MustCompile(`^---@class ([\w.]+)`)
	fieldLine = regexp.MustCompile(`^---@field ([\w]+)\??\s`)
	bindLine  = regexp.MustCompile(`^(?:local )?([\w.]+) = `)
	funcLine  = regexp.MustCompile(`^function ([\w.]+)[.:](\w+)\(`)
	setLine   = regexp.MustCompile(`^([\w.]+)\.(\w+) = `)
)

// Parse reads the classes of [Definitions] and the tables they are bound to.
func Parse() Defs {
	d := Defs{Classes: map[string][]string{}, Tables: map[string]string{}}
	class := "" // the class whose block is being read, until its binding line
	add := func(class, name string) {
		if !slices.Contains(d.Classes[class], name) {
			d.Classes[class] = append(d.Classes[class], name)
		}
	}
	for line := range strings.Lines(string(Definitions)) {
		line = strings.TrimRight(line, "\n")
		if m := classLine.FindStringSubmatch(line); m != nil {
			class = m[1]
			d.Classes[class] = nil
			continue
		}
		if m := fieldLine.FindStringSubmatch(line); m != nil && class != "" {
			add(class, m[1])
			continue
		}
		if strings.HasPrefix(line, "---") {
			continue
		}
		if m := setLine.FindStringSubmatch(line); m != nil {
			if owner, ok := d.Tables[m[1]]; ok {
				add(owner, m[2])
			}
		} else if m := funcLine.FindStringSubmatch(line); m != nil {
			if owner, ok := d.Tables[m[1]]; ok {
				add(owner, m[2])
			}
		}
		if m := bindLine.FindStringSubmatch(line); m != nil && class != "" {
			d.Tables[m[1]] = class
		}
		class = ""
	}
	for _, names := range d.Classes {
		slices.Sort(names)
	}
	return d
}
