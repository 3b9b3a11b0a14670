package cli

import (
	"os"
	"runtime/pprof"
)

// startCPUProfile writes a CPU profile to path until stop is called.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, &usageError{msg: "--cpu-profile: " + err.Error()}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, &usageError{msg: "--cpu-profile: " + err.Error()}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
