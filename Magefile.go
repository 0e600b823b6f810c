//go:build mage

// The plugin SDK's mage targets (mage -v, or mage buildAll): the same binaries as
// scripts/build-backend.sh, built the way Grafana's tooling builds them. mage is not installed
// by scripts/setup.sh; scripts/build-backend.sh is what this project's build runs.
package main

import (
	// mage:import
	build "github.com/grafana/grafana-plugin-sdk-go/build"
)

// Default builds the backend for every platform the SDK targets.
var Default = build.BuildAll
