package engine

// Log attribute keys used by the engine and by the packages built on it.
const (
	LogKeyConn       = "conn"
	LogKeyMount      = "mount"
	LogKeyScript     = "script"
	LogKeyRemoteAddr = "remote_addr"
	LogKeyCode       = "code"
	LogKeyReason     = "reason"
	LogKeyError      = "err"
	LogKeyPath       = "path"
	LogKeyStatus     = "status"
	LogKeyDuration   = "duration"
	LogKeyFiles      = "files"   // a reload's script and modules
	LogKeyOutcome    = "outcome" // a reload's result: "ok" or "refused"
)
