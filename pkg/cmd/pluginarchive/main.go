// Command pluginarchive packs dist/ into the plugin zip and checks it against what Grafana's plugin
// validator documents (pkg/pluginarchive).
//
//	go run ./pkg/cmd/pluginarchive pack  [-dist dist] [-out build/<id>-<version>.zip]
//	go run ./pkg/cmd/pluginarchive check [-source .] <archive.zip>
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/flowlens/flowlens/pkg/pluginarchive"
)

func main() {
	if len(os.Args) < 2 {
		fail(fmt.Errorf("usage: pluginarchive pack|check ..."))
	}
	switch os.Args[1] {
	case "pack":
		fs := flag.NewFlagSet("pack", flag.ExitOnError)
		dist := fs.String("dist", "dist", "the built plugin")
		out := fs.String("out", "", "the zip (default build/<id>-<version>.zip)")
		_ = fs.Parse(os.Args[2:])
		var p struct {
			ID   string `json:"id"`
			Info struct {
				Version string `json:"version"`
			} `json:"info"`
		}
		b, err := os.ReadFile(filepath.Join(*dist, "plugin.json"))
		if err == nil {
			err = json.Unmarshal(b, &p)
		}
		if err != nil {
			fail(fmt.Errorf("%s/plugin.json: %w (build the plugin first: scripts/build.sh all)", *dist, err))
		}
		if *out == "" {
			*out = filepath.Join("build", p.ID+"-"+p.Info.Version+".zip")
		}
		if err := pluginarchive.Pack(*dist, p.ID, *out); err != nil {
			fail(err)
		}
		fmt.Println(*out)
	case "check":
		fs := flag.NewFlagSet("check", flag.ExitOnError)
		source := fs.String("source", "", "the source tree it was built from (compares the Go manifest, package.json, build tooling)")
		_ = fs.Parse(os.Args[2:])
		if fs.NArg() != 1 {
			fail(fmt.Errorf("usage: pluginarchive check [-source dir] archive.zip"))
		}
		report, err := pluginarchive.Check(fs.Arg(0), *source)
		if err != nil {
			fail(err)
		}
		fmt.Println(report)
		errs := report.Errors()
		fmt.Printf("pluginarchive: %d checks, %d errors\n", len(report), len(errs))
		if len(errs) > 0 {
			os.Exit(1)
		}
	default:
		fail(fmt.Errorf("unknown command %q: pack or check", os.Args[1]))
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "pluginarchive:", err)
	os.Exit(2)
}
