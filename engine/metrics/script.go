package metrics

// ScriptStats is what a script runtime (luabind) reports about one mount.
type ScriptStats struct {
	// LuaErrors counts handlers that raised, timed out or returned
	// something unusable.
	LuaErrors uint64
	// ReloadsOK and ReloadsRefused count hot reloads.
	ReloadsOK, ReloadsRefused uint64
	// Bans counts client addresses banned because their handlers were
	// stopped too often; BanRefusals the handshakes and messages of
	// banned addresses refused.
	Bans, BanRefusals uint64
	// Durations holds a histogram of handler run times by handler name
	// ("open", "message", "close", "handshake", "error", "timer").
	Durations map[string]HistogramSnapshot
}

// ScriptSource is implemented by the handler of a mount that runs scripts
// (luabind.Mount), found by type assertion.
type ScriptSource interface {
	ScriptStats() ScriptStats
}
