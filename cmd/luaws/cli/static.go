package cli

import (
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path"
	"strings"
)

// StaticOptions are the settings of every static directory.
type StaticOptions struct {
	// Dotfiles (static_dotfiles) serves names that start with a dot
	// (.env, .git/config). Defaults to false: they are 404.
	Dotfiles bool
	// Listing (static_listing) lists a directory without an index.html.
	// Defaults to false: such a directory is 404.
	Listing bool
}

// staticHandler serves dir through an os.Root: no path, symbolic link or
// ".." leads out of it (a link out reads as missing).
func staticHandler(dir string, opts StaticOptions) (http.Handler, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return http.FileServerFS(staticFS{root: root.FS(), opts: opts}), nil
}

// staticFS is the root's file system with dotfiles and listings hidden
// unless asked for, and every error but a permission one shown as a
// missing file, so that a request learns nothing of what lies outside.
type staticFS struct {
	root fs.FS
	opts StaticOptions
}

func (s staticFS) Open(name string) (fs.File, error) {
	if !s.opts.Dotfiles {
		for _, part := range strings.Split(name, "/") {
			if strings.HasPrefix(part, ".") && part != "." {
				return nil, fs.ErrNotExist
			}
		}
	}
	f, err := s.root.Open(name)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return nil, fs.ErrPermission
		}
		return nil, fs.ErrNotExist
	}
	if s.opts.Listing {
		return f, nil
	}
	if st, err := f.Stat(); err == nil && st.IsDir() {
		// http.FileServer serves a directory's index.html itself; a
		// directory without one would be listed.
		if idx, err := s.root.Open(path.Join(name, "index.html")); err == nil {
			idx.Close()
			return f, nil
		}
		f.Close()
		return nil, fs.ErrNotExist
	}
	return f, nil
}
