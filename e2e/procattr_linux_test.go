//go:build linux

package e2e

import (
	"os/exec"
	"syscall"
)

// setProcAttr has the kernel kill the child when the test binary dies, for
// instance when `go test -timeout` panics and t.Cleanup never runs.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
