// Command flowlens-goprobe tells the agent where to put uprobes in a Go binary: the file offsets
// of crypto/tls.(*Conn).Write and Read and of every RET instruction in them. Go programs must not
// get uretprobes (the runtime moves goroutine stacks), so return values are read by uprobes on
// the RET instructions instead, found here with a real x86-64 decoder.
//
// Usage: flowlens-goprobe BINARY   -> JSON on stdout, exit 1 with one line on stderr when it cannot.
package main

import (
	"debug/buildinfo"
	"debug/elf"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/arch/x86/x86asm"
)

// probeFunctions are the functions whose entry and returns the agent probes.
var probeFunctions = []string{"crypto/tls.(*Conn).Write", "crypto/tls.(*Conn).Read"}

type function struct {
	Offset uint64   `json:"offset"`
	Rets   []uint64 `json:"rets"`
}

type report struct {
	GoVersion string              `json:"goVersion"`
	Functions map[string]function `json:"functions"`
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "flowlens-goprobe: "+format+"\n", args...)
	os.Exit(1)
}

// registerABI reports whether a Go release passes arguments in registers on amd64 (1.17+).
func registerABI(version string) bool {
	v := strings.TrimPrefix(version, "go")
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return false
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(strings.TrimRightFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	return err1 == nil && err2 == nil && (major > 1 || minor >= 17)
}

func main() {
	if len(os.Args) != 2 {
		fail("usage: flowlens-goprobe BINARY")
	}
	path := os.Args[1]
	info, err := buildinfo.ReadFile(path)
	if err != nil {
		fail("%s is not a Go binary: %v", path, err)
	}
	if !registerABI(info.GoVersion) {
		fail("%s was built with %s; only Go 1.17+ (register ABI) is supported", path, info.GoVersion)
	}
	f, err := elf.Open(path)
	if err != nil {
		fail("cannot read %s: %v", path, err)
	}
	defer f.Close()
	if f.Machine != elf.EM_X86_64 {
		fail("%s is not an x86-64 binary", path)
	}
	syms, err := f.Symbols()
	if err != nil {
		fail("%s has no symbol table (stripped?): %v", path, err)
	}
	out := report{GoVersion: info.GoVersion, Functions: map[string]function{}}
	for _, s := range syms {
		for _, want := range probeFunctions {
			if s.Name != want || s.Size == 0 || int(s.Section) >= len(f.Sections) {
				continue
			}
			sec := f.Sections[s.Section]
			code := make([]byte, s.Size)
			if _, err := sec.ReadAt(code, int64(s.Value-sec.Addr)); err != nil {
				fail("cannot read %s in %s: %v", want, path, err)
			}
			fileOffset := s.Value - sec.Addr + sec.Offset
			fn := function{Offset: fileOffset}
			for pos := 0; pos < len(code); {
				inst, err := x86asm.Decode(code[pos:], 64)
				if err != nil || inst.Len == 0 {
					pos++ // padding or data: step over a byte
					continue
				}
				if inst.Op == x86asm.RET {
					fn.Rets = append(fn.Rets, fileOffset+uint64(pos))
				}
				pos += inst.Len
			}
			out.Functions[want] = fn
		}
	}
	if len(out.Functions) == 0 {
		fail("%s does not use crypto/tls", path)
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fail("%v", err)
	}
}
