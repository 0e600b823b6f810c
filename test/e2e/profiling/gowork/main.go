// A Go program of known shape for the profiling test (built stripped, -ldflags=-s -w, so names
// come from .gopclntab): main.hotGo does 3 units of work for each unit main.coldGo does; both
// are leaf functions without a stack frame. Works until it has used os.Args[1] seconds of CPU
// (default 4; at most 40 s of wall time), prints "done", then waits for a line on stdin.
package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Sec) + float64(ru.Utime.Usec)/1e6
}

//go:noinline
func hotGo(n int) float64 {
	s := 0.0
	for i := 0; i < n; i++ {
		s += float64(i^(i>>3)) * 0.5
	}
	return s
}

//go:noinline
func coldGo(n int) float64 {
	s := 0.0
	for i := 0; i < n; i++ {
		s += float64(i^(i>>3)) * 0.5
	}
	return s
}

func main() {
	target := 4.0
	if len(os.Args) > 1 {
		target, _ = strconv.ParseFloat(os.Args[1], 64)
	}
	end := time.Now().Add(40 * time.Second)
	fmt.Println("ready")
	t := 0.0
	for cpuSeconds() < target && time.Now().Before(end) {
		t += hotGo(3_000_000)
		t += coldGo(1_000_000)
	}
	fmt.Println("done", t > 0)
	bufio.NewReader(os.Stdin).ReadString('\n')
}
