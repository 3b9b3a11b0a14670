package luabind

import "time"

// Clock is the time luaws.after and luaws.every follow. The handler
// timeout watchdog, bans, reload debouncing and the engine's keepalive
// follow the real time whatever the Clock.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// AfterFunc calls f on its own goroutine once d has passed.
	AfterFunc(d time.Duration, f func()) ClockTimer
}

// ClockTimer is a timer of a [Clock], as a *time.Timer made by
// time.AfterFunc.
type ClockTimer interface {
	Stop() bool
	Reset(d time.Duration) bool
}

// realClock is the Clock of the time package.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) AfterFunc(d time.Duration, f func()) ClockTimer { return time.AfterFunc(d, f) }
