package luabind

// Log attribute keys of luabind's own lines, beside the engine's
// (engine.LogKeyConn, engine.LogKeyError, ...).
const (
	logKeyScript  = "script"
	logKeyFiles   = "files"   // a reload's script and modules
	logKeyOutcome = "outcome" // a reload's result: "ok" or "refused"
)
