/**
 * Reading `strace -ff -ttt -o PREFIX` output: one file per thread (no
 * interleaved "unfinished" lines), merged in time order. Used where a test
 * proves an order or a window of syscalls from the outside.
 */

/** One traced syscall. */
export interface Call {
  tid: number;
  /** seconds since the epoch (-ttt) */
  at: number;
  name: string;
  args: string;
  ret: string;
}

/** The calls of every `PREFIX.<tid>` file in `dir`, in time order. */
export async function readTrace(dir: string, prefix: string): Promise<Call[]> {
  const calls: Call[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (!e.name.startsWith(prefix + ".")) continue;
    const tid = Number(e.name.slice(prefix.length + 1));
    const text = await Deno.readTextFile(`${dir}/${e.name}`);
    for (const line of text.split("\n")) {
      const m = /^(\d+\.\d+)\s+(\w+)\((.*)\)\s+=\s+(.*)$/.exec(line);
      if (m) {
        calls.push({ tid, at: +m[1], name: m[2], args: m[3], ret: m[4] });
      }
    }
  }
  return calls.sort((a, b) => a.at - b.at);
}
