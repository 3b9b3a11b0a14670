package loadgen

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

// clockTick is the unit of utime and stime in /proc/PID/stat: USER_HZ,
// 100 on every Linux platform Go supports (sysconf(_SC_CLK_TCK)).
const clockTick = 10 * time.Millisecond

// procCPU returns the CPU time, user plus system, that process pid has
// used, from /proc/PID/stat.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("server pid %d: %w", pid, err)
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// count fields after the last ')'. utime and stime are fields 14 and 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("server pid %d: unexpected /proc/%d/stat", pid, pid)
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("server pid %d: unexpected /proc/%d/stat", pid, pid)
	}
	utime, err1 := strconv.ParseInt(string(f[11]), 10, 64)
	stime, err2 := strconv.ParseInt(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("server pid %d: unexpected /proc/%d/stat", pid, pid)
	}
	return time.Duration(utime+stime) * clockTick, nil
}

// procRSS returns the resident set size of process pid in bytes, from
// VmRSS in /proc/PID/status.
func procRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("server pid %d: %w", pid, err)
	}
	for line := range bytes.Lines(b) {
		rest, ok := bytes.CutPrefix(line, []byte("VmRSS:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest) // "1234", "kB"
		if len(f) != 2 {
			break
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			break
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("server pid %d: no VmRSS in /proc/%d/status", pid, pid)
}

// selfCPU returns the CPU time this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// raiseFileLimit makes sure this process may hold need file descriptors,
// raising the soft RLIMIT_NOFILE up to the hard one if it must.
func raiseFileLimit(need int) error {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return nil // cannot tell; let the dials say
	}
	if uint64(need) <= rl.Cur {
		return nil
	}
	if uint64(need) > rl.Max {
		return fmt.Errorf("%d connections need about %d file descriptors, and the hard limit is %d: raise it (ulimit -Hn, or LimitNOFILE) or open fewer", need-fdMargin, need, rl.Max)
	}
	rl.Cur = uint64(need)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return fmt.Errorf("raise the open file limit to %d: %w", need, err)
	}
	return nil
}

// fdMargin is the file descriptors kept for everything but the connections.
const fdMargin = 64
