package luabind

import (
	"context"
	"fmt"
	"log/slog"

	lua "github.com/yuin/gopher-lua"

	"github.com/luaws/luaws/engine"
)

// module builds the luaws global of v.
func (v *vm) module() *lua.LTable {
	L := v.L
	t := L.CreateTable(0, 16)
	L.SetFuncs(t, map[string]lua.LGFunction{
		"connections": v.luaConnections,
		"get":         v.luaGet,
		"broadcast":   v.luaBroadcast,
		"publish":     v.luaPublish,
	})
	v.codec.Install(t)
	if jt, ok := t.RawGetString("json").(*lua.LTable); ok {
		jt.RawSetString("encode", L.NewFunction(v.luaJSONEncode))
	}

	logT := L.CreateTable(0, 4)
	L.SetFuncs(logT, map[string]lua.LGFunction{
		"debug": v.logFunc(slog.LevelDebug),
		"info":  v.logFunc(slog.LevelInfo),
		"warn":  v.logFunc(slog.LevelWarn),
		"error": v.logFunc(slog.LevelError),
	})
	t.RawSetString("log", logT)
	return t
}

// mount returns the engine mount, raising if the Mount was never bound.
func (v *vm) mount(L *lua.LState) *engine.Mount {
	em := v.w.m.em.Load()
	if em == nil {
		L.RaiseError("luaws: the mount is not serving yet")
	}
	return em
}

// luaConnections is luaws.connections(): id → conn of every open connection.
func (v *vm) luaConnections(L *lua.LState) int {
	em := v.mount(L)
	conns := em.Conns()
	t := L.CreateTable(0, len(conns))
	for _, c := range conns {
		if cs, ok := c.Attached().(*connState); ok && c.Open() {
			t.RawSetInt(int(c.ID()), v.connObject(cs))
		}
	}
	L.Push(t)
	return 1
}

// luaGet is luaws.get(id): the conn, or nil.
func (v *vm) luaGet(L *lua.LState) int {
	id := L.CheckInt64(1)
	c := v.mount(L).Conn(uint64(id))
	if c == nil || !c.Open() {
		L.Push(lua.LNil)
		return 1
	}
	cs, _ := c.Attached().(*connState)
	if cs == nil {
		L.Push(lua.LNil)
		return 1
	}
	L.Push(v.connObject(cs))
	return 1
}

// luaBroadcast is luaws.broadcast(v[, except]): v encoded once and sent to
// every open connection of the mount but except (a conn or an id). It
// returns how many connections it was queued for.
func (v *vm) luaBroadcast(L *lua.LState) int {
	em := v.mount(L)
	typ, data := v.encodeArg(L, 1, "broadcast")
	var except uint64
	if L.GetTop() >= 2 && L.Get(2) != lua.LNil {
		c := v.connOf(L.Get(2))
		if c == nil {
			if n, ok := L.Get(2).(lua.LNumber); ok {
				except = uint64(n)
			} else {
				L.ArgError(2, "conn or id expected")
			}
		} else {
			except = c.ID()
		}
	}
	if v.live {
		n, err := v.w.flusher.Broadcast(em, typ, data, except) // written when the worker has no event left
		return pushCount(L, n, err)
	}
	n, err := em.Broadcast(typ, data, except)
	return pushCount(L, n, err)
}

// luaPublish is luaws.publish(topic, v): v encoded once and sent to every
// connection subscribed to topic, on this node and on every node sharing
// the broker. It returns how many connections of this node it was queued
// for.
func (v *vm) luaPublish(L *lua.LState) int {
	em := v.mount(L)
	topic := checkTopic(L, 1)
	typ, data := v.encodeArg(L, 2, "publish")
	if v.live {
		n, err := v.w.flusher.Publish(em, topic, typ, data) // written when the worker has no event left, as a broadcast is
		return pushCount(L, n, err)
	}
	n, err := em.Publish(topic, typ, data)
	return pushCount(L, n, err)
}

// pushCount returns n to Lua, or nil and the error's text.
func pushCount(L *lua.LState, n int, err error) int {
	if err != nil {
		L.Push(lua.LNil)
		L.Push(lua.LString(err.Error()))
		return 2
	}
	L.Push(lua.LNumber(n))
	return 1
}

// checkTopic returns argument n as a topic name, raising if it is not a
// string of 1 to engine.MaxTopicLen bytes.
func checkTopic(L *lua.LState, n int) string {
	topic := L.CheckString(n)
	if topic == "" || len(topic) > engine.MaxTopicLen {
		L.ArgError(n, fmt.Sprintf("topic must be 1 to %d bytes", engine.MaxTopicLen))
	}
	return topic
}

// logFunc is luaws.log.LEVEL(msg, key, value, ...): one structured line
// with the script's name and the caller's line.
func (v *vm) logFunc(level slog.Level) lua.LGFunction {
	return func(L *lua.LState) int {
		msg := L.CheckString(1)
		top := L.GetTop()
		args := make([]any, 0, top)
		if dbg, ok := L.GetStack(1); ok {
			if _, err := L.GetInfo("Sl", dbg, lua.LNil); err == nil && dbg.CurrentLine > 0 {
				args = append(args, "line", dbg.CurrentLine)
			}
		}
		for i := 2; i <= top; i += 2 {
			key := lua.LVAsString(L.Get(i))
			if key == "" {
				key = "!BADKEY"
			}
			var val any
			if i+1 <= top {
				val, _ = ToGo(v.codec, L.Get(i+1))
				if val == nil && L.Get(i+1) != lua.LNil {
					val = L.Get(i + 1).String()
				}
			}
			args = append(args, key, val)
		}
		v.log.Log(context.Background(), level, msg, args...)
		return 0
	}
}
