package luabind

// SyncAll waits until every worker has run the events posted to it before
// the call: handlers and timers already queued have run, and what they
// sent is in the connections' send queues. luaws test calls it before it
// looks at a mount's connections, luaws.shared or logs.
func (m *Mount) SyncAll() {
	for _, w := range m.workers {
		w.do(func(*vm) {})
	}
}
