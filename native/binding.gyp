{
  "targets": [
    {
      "target_name": "flowlens_native",
      "sources": ["src/addon.c", "src/profiler.c", "src/packet_capture.c", "src/tcp_health.c"],
      "include_dirs": ["../bpf", "../build/bpf"],
      "libraries": ["-lbpf", "-lelf", "-lz"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"]
    }
  ]
}
