import assert from "node:assert/strict";
import { parseSmaps } from "../../src/protect/smaps.ts";

const TEXT = `7f0000000000-7f0000001000 ---p 00000000 00:00 0 
Size:                  4 kB
VmFlags: mr mw me ac 
7f0000001000-7f0000003000 r--s 00000000 00:01 12345                      /secretmem (deleted)
Size:                  8 kB
Rss:                   8 kB
VmFlags: rd sh mr mw me ms lo dd 
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]
VmFlags: ex
`;

Deno.test("parseSmaps: headers (paths with spaces, no path), VmFlags per VMA", () => {
  const v = parseSmaps(TEXT);
  assert.equal(v.length, 3);
  assert.deepEqual(
    v.map((x) => [x.start.toString(16), x.end.toString(16), x.perms, x.path]),
    [
      ["7f0000000000", "7f0000001000", "---p", ""],
      ["7f0000001000", "7f0000003000", "r--s", "/secretmem (deleted)"],
      ["ffffffffff600000", "ffffffffff601000", "--xp", "[vsyscall]"],
    ],
  );
  assert.deepEqual([...v[1].flags], [
    "rd",
    "sh",
    "mr",
    "mw",
    "me",
    "ms",
    "lo",
    "dd",
  ]);
  assert.deepEqual([...v[2].flags], ["ex"]);
});

Deno.test("parseSmaps: this process's own smaps, every VMA header and its VmFlags", () => {
  // One read: the mappings change between two reads of a live process.
  const text = Deno.readTextFileSync("/proc/self/smaps");
  const v = parseSmaps(text);
  const headers = text.split("\n").filter((l) =>
    /^[0-9a-f]+-[0-9a-f]+ \S{4} /.test(l)
  );
  assert.ok(v.length > 10);
  assert.equal(v.length, headers.length);
  assert.deepEqual(
    v.map((x) => [x.start, x.end, x.perms]),
    headers.map((l) => {
      const [range, perms] = l.split(" ");
      const [a, b] = range.split("-");
      return [BigInt("0x" + a), BigInt("0x" + b), perms];
    }),
  );
  assert.ok(v.every((x) => x.flags.size > 0), "every VMA has its VmFlags");
});
