// Where OpenSSL lives on this host: every libssl the dynamic linker knows, plus binaries that link
// OpenSSL statically and export its symbols (Node.js is one: its own binary).
import { execFileSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';

export function findTlsLibraries(extra: string[] = []): string[] {
  const found = new Set<string>();
  const add = (p: string) => {
    try {
      if (existsSync(p)) {
        found.add(realpathSync(p)); // one probe per file, however many links point to it
      }
    } catch {
      /* unreadable: skip */
    }
  };
  try {
    const out = execFileSync('ldconfig', ['-p'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    for (const m of out.matchAll(/libssl\.so[^\s]* .*=> (\S+)/g)) {
      add(m[1]);
    }
  } catch {
    for (const p of [
      '/usr/lib/x86_64-linux-gnu/libssl.so.3',
      '/usr/lib/x86_64-linux-gnu/libssl.so.1.1',
      '/lib64/libssl.so.3',
    ]) {
      add(p);
    }
  }
  add(process.execPath); // node, as the demo and many services run it
  for (const p of extra) {
    add(p);
  }
  return [...found];
}
