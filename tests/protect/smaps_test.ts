import assert from "node:assert/strict";
import { parseSmaps, vmasAround } from "../../src/protect/smaps.ts";

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

Deno.test("vmasAround: the VMA at an address and the ones touching it, same as a whole parse", () => {
  assert.equal(vmasAround(TEXT, 0x7f0000002000n), null, "no VMA starts there");
  const mid = vmasAround(TEXT, 0x7f0000001000n)!;
  assert.equal(mid.vma.path, "/secretmem (deleted)");
  assert.equal(mid.before?.perms, "---p");
  assert.equal(mid.after, null, "the next VMA does not touch it");
  const first = vmasAround(TEXT, 0x7f0000000000n)!;
  assert.equal(first.before, null);
  assert.equal(first.after?.path, "/secretmem (deleted)");
  const last = vmasAround(TEXT, 0xffffffffff600000n)!;
  assert.deepEqual([...last.vma.flags], ["ex"]);
  assert.equal(last.after, null);
  // Every VMA of this process's own smaps, against parseSmaps of all of it.
  const text = Deno.readTextFileSync("/proc/self/smaps");
  const all = parseSmaps(text);
  all.forEach((v, i) => {
    const got = vmasAround(text, v.start)!;
    assert.deepEqual(got.vma, v);
    const before = all[i - 1]?.end === v.start ? all[i - 1] : null;
    const after = all[i + 1]?.start === v.end ? all[i + 1] : null;
    assert.deepEqual(got.before, before, `before ${v.start.toString(16)}`);
    assert.deepEqual(got.after, after, `after ${v.start.toString(16)}`);
  });
});
