package engine

// Log attribute keys used by the engine and by the packages built on it.
const (
	LogKeyConn       = "conn"
	LogKeyMount      = "mount"
	LogKeyRemoteAddr = "remote_addr"
	LogKeyCode       = "code"
	LogKeyReason     = "reason"
	LogKeyError      = "err"
	LogKeyPath       = "path"
	LogKeyStatus     = "status"
	LogKeyDuration   = "duration"
)
