package luabind

import (
	"log/slog"
	"math"
	"runtime/debug"
	"time"
)

// Options configures a [Mount].
type Options struct {
	// Script is the path of the Lua file. Required.
	Script string
	// Workers is the number of Lua VMs, each on its own goroutine.
	// Defaults to 1.
	Workers int
	// Serializer is the wire format of the mount's messages:
	// [SerializerNone] (the default) or [SerializerJSON].
	Serializer string
	// HandlerTimeout bounds one handler or timer call: past it the call
	// is stopped with an error and, for a connection's handler, the
	// connection is closed with 1011. Defaults to 1 s.
	HandlerTimeout time.Duration
	// LoadTimeout bounds running the script's main chunk in one VM, at
	// start and at each reload. Defaults to 10 s.
	LoadTimeout time.Duration
	// MemoryLimit is the Go heap size, in bytes, above which a handler or
	// timer call that has run for more than one watchdog tick (a tenth of
	// HandlerTimeout, at most 50 ms) is stopped as if it had timed out.
	// The heap is the whole process's. Defaults to the runtime's memory
	// limit (GOMEMLIMIT) when one is set, 1 GiB otherwise; negative turns
	// the check off.
	MemoryLimit int64
	// BanAfterStops and BanDuration bound what one client address can do
	// to a worker with handlers that run until they are stopped: an
	// address whose handlers were stopped BanAfterStops times within
	// BanDuration is banned for BanDuration. Its handshakes are refused
	// with 429 and its open connections closed with 1008 at their next
	// message. BanAfterStops defaults to 3; BanDuration defaults to one
	// minute, negative turns bans off.
	BanAfterStops int
	BanDuration   time.Duration
	// MaxStringSize bounds the string one builtin call may build:
	// string.rep, string.format, string.gsub, table.concat,
	// luaws.json.encode and the encoding of conn:send and luaws.broadcast.
	// A call that would build more raises an error. Defaults to 16 MiB.
	MaxStringSize int
	// QueueSize is how many events may wait for one worker before the
	// connections feeding it stop being read. Defaults to 1024.
	QueueSize int
	// CallStackSize bounds Lua call depth, per coroutine. Defaults to 200
	// frames.
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
	// Shared is the store behind luaws.shared. Defaults to one store for
	// the whole process, shared by every Mount that does not set its own.
	Shared *Shared
	// Clock is the time luaws.after and luaws.every follow. Defaults to
	// the real time; luaws test gives a virtual one.
	Clock Clock
	// Logger receives the mount's logs and the scripts' luaws.log lines. Nil discards.
	Logger *slog.Logger
}

// processShared is the luaws.shared of every Mount whose Options.Shared is nil.
var processShared = NewShared()

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
	if o.MemoryLimit == 0 {
		o.MemoryLimit = 1 << 30
		if limit := debug.SetMemoryLimit(-1); limit != math.MaxInt64 {
			o.MemoryLimit = limit
		}
	}
	if o.BanAfterStops <= 0 {
		o.BanAfterStops = 3
	}
	if o.BanDuration == 0 {
		o.BanDuration = time.Minute
	}
	if o.MaxStringSize <= 0 {
		o.MaxStringSize = 16 << 20
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
	if o.Shared == nil {
		o.Shared = processShared
	}
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}
