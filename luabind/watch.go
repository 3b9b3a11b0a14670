package luabind

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/luaws/luaws/engine"
)

// watcher turns changes of a mount's files into reloads. It watches the
// directories that hold the files, not the files: editors that save by
// writing a new file and renaming it over the old one (or by deleting and
// creating it) replace the inode, and a watch on the file itself would be
// lost at the first save. Events for other files of those directories are
// ignored. A burst of events (one save is often several) becomes one
// reload once the files have been quiet for the debounce time.
//
// The set of files only grows: a module that a later version no longer
// requires still triggers a reload when it changes, which is harmless.
type watcher struct {
	fsw      *fsnotify.Watcher
	debounce time.Duration
	reload   func(reason string)
	log      *slog.Logger
	quit     chan struct{}
	done     chan struct{}

	mu      sync.Mutex
	files   map[string]bool // absolute, cleaned
	dirs    map[string]bool // directories watched
	pending map[string]bool // directories to watch once they exist
	closed  bool
}

// startWatch starts watching m's files. A watcher that cannot start (the
// system's inotify limits) is logged; SIGHUP still reloads.
func (m *Mount) startWatch() {
	w, err := newWatcher(m.opts.WatchDebounce, m.log, func(reason string) { _ = m.Reload(reason) })
	if err != nil {
		m.log.Warn("cannot watch the script, reload with SIGHUP", engine.LogKeyError, err)
		return
	}
	m.watch = w
	m.watchPrograms(m.prog.Load())
	go w.loop()
}

func newWatcher(debounce time.Duration, log *slog.Logger, reload func(reason string)) (*watcher, error) {
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	return &watcher{
		fsw:      fsw,
		debounce: debounce,
		reload:   reload,
		log:      log,
		quit:     make(chan struct{}),
		done:     make(chan struct{}),
		files:    map[string]bool{},
		dirs:     map[string]bool{},
		pending:  map[string]bool{},
	}, nil
}

// add watches paths, and their directories when new. A directory that
// does not exist yet (a require looked for "lib.x" before lib/ was made)
// is pending: its nearest existing ancestor is watched instead, and it is
// watched once it appears.
func (w *watcher) add(paths ...string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			continue
		}
		w.files[abs] = true
		w.watchDir(filepath.Dir(abs))
		// A symlinked file changes where its target is.
		if real, err := filepath.EvalSymlinks(abs); err == nil && real != abs {
			w.files[real] = true
			w.watchDir(filepath.Dir(real))
		}
	}
}

// watchDir watches dir, or marks it pending and watches its parent.
// w.mu is held.
func (w *watcher) watchDir(dir string) {
	for !w.dirs[dir] {
		err := w.fsw.Add(dir)
		if err == nil {
			w.dirs[dir] = true
			delete(w.pending, dir)
			return
		}
		if !errors.Is(err, fs.ErrNotExist) {
			w.log.Warn("cannot watch directory", engine.LogKeyPath, dir, engine.LogKeyError, err)
			return
		}
		w.pending[dir] = true
		parent := filepath.Dir(dir)
		if parent == dir {
			return
		}
		dir = parent
	}
}

// relevant tells whether ev changes one of the files. A directory created
// on the way to a pending one makes the pending ones watched, and counts
// if a file is already in them (made before the watch started).
func (w *watcher) relevant(ev fsnotify.Event) (string, bool) {
	// Chmod alone is not a change of content (and indexers and virus
	// scanners send many); the other ops cover every way of saving.
	if !ev.Has(fsnotify.Write) && !ev.Has(fsnotify.Create) && !ev.Has(fsnotify.Remove) && !ev.Has(fsnotify.Rename) {
		return "", false
	}
	name := filepath.Clean(ev.Name)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.files[name] {
		return name, true
	}
	if !ev.Has(fsnotify.Create) || len(w.pending) == 0 {
		return "", false
	}
	found := false
	for progress := true; progress; {
		progress = false
		for dir := range w.pending {
			if !w.dirs[filepath.Dir(dir)] {
				continue
			}
			if err := w.fsw.Add(dir); err == nil {
				w.dirs[dir] = true
				delete(w.pending, dir)
				progress = true
				for f := range w.files {
					if filepath.Dir(f) == dir {
						if _, err := os.Stat(f); err == nil {
							name, found = f, true
						}
					}
				}
			}
		}
	}
	return name, found
}

// loop runs until close: it collects relevant events and reloads once they
// stop for the debounce time. The reload runs here, so events that arrive
// during it lead to one more reload afterwards.
func (w *watcher) loop() {
	defer close(w.done)
	timer := time.NewTimer(w.debounce)
	timer.Stop()
	defer timer.Stop()
	var changed []string
	for {
		select {
		case <-w.quit:
			return
		case ev, ok := <-w.fsw.Events:
			if !ok {
				return
			}
			name, ok := w.relevant(ev)
			if !ok {
				continue
			}
			if !slices.Contains(changed, name) {
				changed = append(changed, name)
			}
			timer.Reset(w.debounce)
		case err, ok := <-w.fsw.Errors:
			if !ok {
				return
			}
			w.log.Warn("file watcher", engine.LogKeyError, err)
		case <-timer.C:
			reason := "changed: " + strings.Join(changed, ", ")
			changed = changed[:0]
			w.reload(reason)
		}
	}
}

// close stops the loop, waiting for a reload it is running.
func (w *watcher) close() {
	close(w.quit)
	<-w.done
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	w.fsw.Close()
}
