package testcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// logTailLines is how much of a process's log goes into a start error.
const logTailLines = 25

// proc is one control-plane process started by the full shape.
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed once the process has exited and been reaped
	exitErr error         // set before done is closed
}

// startProc starts bin with args, stdout and stderr going to logDir/<name>.log. The
// process gets its own process group, so a Ctrl-C meant for `go test` reaches the
// harness (which stops it in order) rather than the process.
func startProc(name, bin string, args, env []string, logDir string) (*proc, error) {
	logPath := filepath.Join(logDir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	defer logFile.Close() // the child has its own copy
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s (%s): %w", name, bin, err)
	}
	p := &proc{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.exitErr = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended, and how.
func (p *proc) exited() (bool, error) {
	select {
	case <-p.done:
		if p.exitErr == nil {
			return true, errors.New("exit status 0")
		}
		return true, p.exitErr
	default:
		return false, nil
	}
}

// stop asks the process to end (SIGTERM), then kills it after grace.
func (p *proc) stop(grace time.Duration) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
	}
	_ = p.cmd.Process.Kill()
	<-p.done
	return fmt.Errorf("%s did not stop within %s of SIGTERM: killed", p.name, grace)
}

// failure is a start error that names the process and quotes the end of its log.
func (p *proc) failure(what string) error {
	return fmt.Errorf("%s %s; last lines of %s:\n%s", p.name, what, p.logPath, tail(p.logPath, logTailLines))
}

// waitReady polls check until it succeeds, the process exits, ctx ends or timeout
// passes; each failure names the process and quotes its log.
func (p *proc) waitReady(ctx context.Context, timeout time.Duration, check func(context.Context) error) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		last = check(cctx)
		cancel()
		if last == nil {
			return nil
		}
		if done, err := p.exited(); done {
			return p.failure(fmt.Sprintf("exited before it was ready (%v)", err))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", p.name, ctx.Err())
		case <-p.done:
			return p.failure(fmt.Sprintf("exited before it was ready (%v)", p.exitErr))
		case <-deadline.C:
			return p.failure(fmt.Sprintf("not ready after %s (last check: %v)", timeout, last))
		case <-tick.C:
		}
	}
}

// tail returns the last n lines of a file, or a note saying why it cannot.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "  (" + err.Error() + ")"
	}
	data = bytes.TrimRight(data, "\n")
	if len(data) == 0 {
		return "  (empty)"
	}
	lines := strings.Split(string(data), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return strings.Join(lines, "\n")
}

// freePorts returns n distinct TCP ports free on the loopback interface right now.
// They are held until all are chosen, so the same port is never handed out twice.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// reaper is a tiny shell process that outlives the test binary: if the binary dies
// without calling Stop (a panic in a test, a -timeout, SIGKILL), its end of the pipe
// closes and the reaper kills every process whose command line mentions the
// environment's folders, then removes them. A normal Stop tells it to leave quietly.
type reaper struct {
	cmd *exec.Cmd
	w   io.WriteCloser
}

const reaperScript = `trap '' INT HUP
while read -r line; do [ "$line" = done ] && exit 0; done
for p in /proc/[0-9]*; do
	pid=${p#/proc/}
	[ "$pid" = "$$" ] && continue
	for d in "$@"; do
		if grep -qasF -- "$d" "$p/cmdline" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null; break; fi
	done
done
sleep 0.2
rm -rf -- "$@"`

func startReaper(dirs ...string) (*reaper, error) {
	cmd := exec.Command("/bin/sh", append([]string{"-c", reaperScript, "testcluster-reaper"}, dirs...)...)
	w, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the cleanup watcher: %w", err)
	}
	return &reaper{cmd: cmd, w: w}, nil
}

// dismiss tells the reaper that cleanup is done.
func (r *reaper) dismiss() {
	if r == nil {
		return
	}
	_, _ = io.WriteString(r.w, "done\n")
	_ = r.w.Close()
	_ = r.cmd.Wait()
}

// processAlive reports whether pid names a live (not zombie) process.
func processAlive(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return syscall.Kill(pid, 0) == nil
	}
	// The state follows the command name in parentheses: "pid (comm) S ...".
	s := string(data)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z' && s[i+2] != 'X'
	}
	return true
}

// pid is the reaper's process ID (0 if there is none).
func (r *reaper) pid() int {
	if r == nil {
		return 0
	}
	return r.cmd.Process.Pid
}

// childrenMentioning returns the PIDs of this process's children whose command line
// contains dir, but not except (how envtest's processes are found: it does not expose
// them).
func childrenMentioning(dir string, except int) []int {
	self := os.Getpid()
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == except {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(stat)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(s[i+1:])
		if len(fields) < 2 || fields[1] != strconv.Itoa(self) {
			continue
		}
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || !bytes.Contains(cmdline, []byte(dir)) {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}
