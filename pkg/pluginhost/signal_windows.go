//go:build windows

package pluginhost

import "os"

var sigterm = os.Kill
