//go:build !windows

package pluginhost

import "syscall"

var sigterm = syscall.SIGTERM
