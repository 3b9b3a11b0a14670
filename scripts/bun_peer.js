// bun_peer.js: the Bun (uWebSockets) server that scripts/peers.sh measures
// beside luaws and plain gorilla. Run it with:  bun scripts/bun_peer.js
//
// It does what examples/echo/echo.lua and scripts/bench_broadcast.lua do,
// on one endpoint: a message {"broadcast": v} has v (encoded once) sent to
// every other connection; any other message is sent back as it came.
const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch(req, server) {
    if (server.upgrade(req)) return;
    return new Response("WebSocket only", { status: 426 });
  },
  websocket: {
    open(ws) {
      ws.subscribe("all");
    },
    message(ws, msg) {
      if (typeof msg === "string" && msg.startsWith('{"broadcast"')) {
        let v;
        try {
          v = JSON.parse(msg).broadcast;
        } catch {
          ws.send(msg);
          return;
        }
        ws.publish("all", JSON.stringify(v)); // everyone subscribed but ws
        return;
      }
      ws.send(msg);
    },
  },
});
console.log(`bun listening on ws://127.0.0.1:${server.port}/ws (pid ${process.pid})`);
