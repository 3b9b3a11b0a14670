package luabind

import (
	"log/slog"
	"time"
)

// Options configures a [Mount].
type Options struct {
	// Script is the path of the Lua file. Required.
	Script string
	// Workers is the number of Lua VMs. Defaults to 1.
	Workers int
	// HandlerTimeout bounds one handler or timer call. Defaults to 1 s.
	HandlerTimeout time.Duration
	// LoadTimeout bounds running the script's main chunk in one VM, at
	// start and at each reload. Defaults to 10 s.
	LoadTimeout time.Duration
	// QueueSize is how many events may wait for one worker before the
	// connections feeding it stop being read. Defaults to 1024.
	QueueSize int
	// CallStackSize bounds Lua call depth. Defaults to 200 frames.
	CallStackSize int
	// RegistryMaxSize bounds a VM's value stack, in slots. Defaults to 256 Ki.
	RegistryMaxSize int
	// Watch reloads the mount (see [Mount.Reload]) when the script or a
	// module it requires changes on disk. Defaults to false; luaws serve
	// turns it on.
	Watch bool
	// WatchDebounce is how long the files must stay quiet after a change
	// before the reload starts, so that one save is one reload. Defaults
	// to 100 ms.
	WatchDebounce time.Duration
	// Logger receives the mount's logs and the scripts' luaws.log lines. Nil discards.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Workers <= 0 {
		o.Workers = 1
	}
	if o.HandlerTimeout <= 0 {
		o.HandlerTimeout = time.Second
	}
	if o.LoadTimeout <= 0 {
		o.LoadTimeout = 10 * time.Second
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 1024
	}
	if o.CallStackSize <= 0 {
		o.CallStackSize = 200
	}
	if o.RegistryMaxSize <= 0 {
		o.RegistryMaxSize = 256 * 1024
	}
	if o.WatchDebounce <= 0 {
		o.WatchDebounce = 100 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}
