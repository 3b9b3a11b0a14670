// Package scripts holds the Lua scripts shipped inside the luaws binary.
package scripts

import "embed"

// FS holds the shipped scripts, e.g. "echo.lua".
//
//go:embed *.lua
var FS embed.FS
