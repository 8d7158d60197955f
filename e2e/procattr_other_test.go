//go:build unix && !linux

package e2e

import "os/exec"

// setProcAttr: only Linux can tie a child's life to its parent; elsewhere
// t.Cleanup is the only guard.
func setProcAttr(*exec.Cmd) {}
