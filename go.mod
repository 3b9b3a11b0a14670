module github.com/luaws/luaws

go 1.26.8

require (
	github.com/fsnotify/fsnotify v1.10.1
	github.com/gorilla/websocket v1.5.3
	github.com/yuin/gopher-lua v1.1.2
	layeh.com/gopher-luar v1.0.11
)

require (
	github.com/pelletier/go-toml/v2 v2.4.3 // indirect
	golang.org/x/sys v0.13.0 // indirect
)
