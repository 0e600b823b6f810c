// Package pluginarchive packs the built plugin (dist/) into the zip Grafana installs and the
// plugin catalog receives, and checks such an archive against what Grafana's plugin validator
// documents (github.com/grafana/plugin-validator: its analyzers), for the checks that need
// neither the network, a signing key nor its external scanners. The validator itself cannot run
// here (its npm wrapper downloads a binary; its Go module is not served).
package pluginarchive

import (
	"archive/zip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// Pack writes dist as a zip with one root directory named id (what the validator's archive and
// archivename analyzers want), keeping each file's mode (binaries must stay 0755).
func Pack(dist, id, out string) error {
	var files []string
	err := filepath.WalkDir(dist, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("%s holds no files: build the plugin first (scripts/build.sh all)", dist)
	}
	sort.Strings(files)
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	w := zip.NewWriter(f)
	for _, path := range files {
		if err := addFile(w, dist, id, path); err != nil {
			_ = f.Close()
			return err
		}
	}
	if err := w.Close(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

func addFile(w *zip.Writer, dist, id, path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	rel, err := filepath.Rel(dist, path)
	if err != nil {
		return err
	}
	h, err := zip.FileInfoHeader(info)
	if err != nil {
		return err
	}
	h.Name = id + "/" + filepath.ToSlash(rel)
	h.Method = zip.Deflate
	dst, err := w.CreateHeader(h)
	if err != nil {
		return err
	}
	src, err := os.Open(path)
	if err != nil {
		return err
	}
	defer src.Close()
	_, err = io.Copy(dst, src)
	return err
}
