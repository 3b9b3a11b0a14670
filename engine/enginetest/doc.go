// Package enginetest holds the helpers that the tests of luaws share, as
// net/http/httptest does for net/http: serving an [engine.Server] on
// 127.0.0.1 for one test ([Serve]), a gorilla client that reads and writes
// with deadlines ([Dial], [Read], [ReadClose]), plain HTTP requests ([Get]),
// a self-signed certificate ([SelfSigned]), a log buffer that goroutines
// write while the test reads ([Buffer]), polling with a deadline
// ([WaitFor]) and the goroutine-leak check of TestMain ([Main]).
//
// Every wait is bounded by [Timeout]; nothing sleeps to synchronize. What a
// helper opens (connections, servers) is closed in t.Cleanup, and a helper
// that cannot do its job fails the test with t.Fatal, so that it must be
// called from the test's goroutine.
//
// It imports only the standard library, gorilla/websocket and engine (a test
// checks this), so that engine's own tests can use it as well as luabind's,
// the command line's and the examples'.
package enginetest
