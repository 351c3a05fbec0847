/**
 * What crosses the TypeScript/C line has one home per language: the region
 * format (src/region/format.ts, c/sdk/cloudtaser.h), the rest
 * (ffi/constants.ts, c/include/ct/*.h) and the log line (src/log.ts,
 * c/include/ct/log_line.h). `build/constants_dump` is built from the C
 * headers and prints what the C programs use; these tests hold the two
 * sides equal, and pass regions both ways between the two writers and the
 * two readers.
 */
import assert from "node:assert/strict";
import { getLogLevels, type LogRecord } from "@logtape/logtape";
import * as fmt from "../../src/region/format.ts";
import { SecretRegion } from "../../src/region/mod.ts";
import { parseRegion, SECRET_FD_ENV } from "../../src/sdk/mod.ts";
import { jsonLine } from "../../src/log.ts";
import {
  ACCESS,
  CALLS,
  CAPTURED_SIGNALS,
  DELIVERIES,
  ERRNO_NAMES,
  EXIT,
  HTTP,
  HTTP_FAILURES,
  MADV,
  MAP,
  O_CLOEXEC,
  PROT,
  REFRESH,
  RLIM_INFINITY,
  SHIM_STEPS,
  SIGNAL_NUMBERS,
  V8_FLAGS,
} from "../../ffi/constants.ts";
import { errnoName } from "../../ffi/syscall_error.ts";
import { nativePath, viewOf } from "../../ffi/mod.ts";

const DUMP = nativePath("constants_dump");
const dec = new TextDecoder();

function dump(args: string[] = []): string {
  const r = new Deno.Command(DUMP, { args, stdin: "null" }).outputSync();
  assert.equal(r.code, 0, dec.decode(r.stderr));
  return dec.decode(r.stdout);
}

async function dumpWith(args: string[], stdin: Uint8Array): Promise<string> {
  const p = new Deno.Command(DUMP, {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = p.stdin.getWriter();
  await w.write(stdin);
  await w.close();
  const r = await p.output();
  assert.equal(r.code, 0, dec.decode(r.stdout) + dec.decode(r.stderr));
  return dec.decode(r.stdout);
}

interface Dump {
  region: Record<string, number | string> & { flags: Record<string, number> };
  deliveries: string[];
  signals: { name: string; number: number }[];
  shim_steps: { value: number; call: string }[];
  calls: string[];
  v8_flags: string;
  http: {
    failures: { value: number; name: string }[];
    plain: number;
    skip_verify: number;
    pair: number[];
  };
  exit: Record<string, number>;
  errnos: Record<string, string>;
  errname: Record<string, string>;
  log_levels: string[];
  linux: Record<string, unknown>;
  refresh: Record<string, unknown>;
}

const C: Dump = JSON.parse(dump());

Deno.test("region format: cloudtaser.h and src/region/format.ts agree on sizes, offsets, magic and flags", () => {
  const r = C.region;
  // The magic carries the format's version in its last two characters.
  assert.equal(r.magic, dec.decode(fmt.MAGIC));
  assert.match(String(r.magic), /^CTREGN\d\d$/);
  assert.deepEqual(
    {
      header: r.header_size,
      canary: r.canary_size,
      recordsOffset: r.off_records_offset,
      recordsLength: r.off_records_length,
      count: r.off_record_count,
      dataSize: r.off_data_size,
      flags: r.off_flags,
      canaryCopy: r.off_canary,
    },
    {
      header: fmt.HEADER_SIZE,
      canary: fmt.CANARY_SIZE,
      recordsOffset: fmt.OFF_RECORDS_OFFSET,
      recordsLength: fmt.OFF_RECORDS_LENGTH,
      count: fmt.OFF_RECORD_COUNT,
      dataSize: fmt.OFF_DATA_SIZE,
      flags: fmt.OFF_FLAGS,
      canaryCopy: fmt.OFF_CANARY,
    },
  );
  // The reserved field (a generation, docs/refresh.md) sits between the
  // data size and the flags at 24, the flags at 28, the canary copy ends
  // the header: no gap and no overlap on either side.
  assert.equal(r.off_reserved, 24);
  assert.equal(r.off_generation, fmt.OFF_GENERATION);
  assert.equal(fmt.OFF_GENERATION, r.off_reserved);
  assert.equal(fmt.OFF_DATA_SIZE + 4, r.off_reserved);
  assert.equal(Number(r.off_reserved) + 4, fmt.OFF_FLAGS);
  assert.equal(fmt.OFF_FLAGS, 28);
  assert.equal(fmt.OFF_FLAGS + 4, fmt.OFF_CANARY);
  assert.equal(fmt.OFF_CANARY + fmt.CANARY_SIZE, fmt.HEADER_SIZE);
  assert.deepEqual(r.flags, fmt.FLAGS);
  assert.equal(r.fd_env, SECRET_FD_ENV);
});

Deno.test("refresh protocol: ct/refresh.h and ffi/constants.ts REFRESH agree on fds, words, report keys and bounds", () => {
  assert.deepEqual(C.refresh, {
    fds: REFRESH.FDS,
    report_keys: REFRESH.REPORT_KEYS,
    mode: REFRESH.MODE,
    op_due: REFRESH.OP_DUE,
    op_revoke: REFRESH.OP_REVOKE,
    path: REFRESH.PATH,
    report_max: REFRESH.REPORT_MAX,
    state_max: REFRESH.STATE_MAX,
    retry_max_ms: REFRESH.RETRY_MAX_MS,
  });
});

Deno.test("region format: a region the C writer made reads the same in the TypeScript reader", () => {
  const hex = dump([
    "region",
    String(fmt.FLAGS.APP_CORE_DUMPS),
    "A=1",
    "B=x=y",
    "C=",
  ]).trim();
  const bytes = new Uint8Array(hex.match(/../g)!.map((h) => parseInt(h, 16)));
  assert.deepEqual(
    parseRegion(bytes).map((r) => [r.key, r.valueLength]),
    [["A", 1], ["B", 3], ["C", 0]],
  );
  const dv = new DataView(bytes.buffer);
  assert.equal(dv.getUint32(fmt.OFF_FLAGS, true), fmt.FLAGS.APP_CORE_DUMPS);
  assert.equal(dv.getUint32(Number(C.region.off_reserved), true), 0);
  assert.equal(dv.getUint32(fmt.OFF_DATA_SIZE, true), bytes.length);
});

Deno.test("region format: a region the TypeScript writer made reads the same in cloudtaser.h", async () => {
  const region = SecretRegion.create();
  try {
    region.append("DB_USER", new TextEncoder().encode("app"));
    region.append("EMPTY", new Uint8Array(0));
    region.setFlags(fmt.FLAGS.CHILD_ENV_FALLBACK);
    const bytes = viewOf(region.address, region.size).slice();
    try {
      const got = JSON.parse(await dumpWith(["parse"], bytes));
      assert.deepEqual(got, {
        count: 2,
        flags: fmt.FLAGS.CHILD_ENV_FALLBACK,
        reserved: 0,
        records: [
          { key: "DB_USER", value_length: 3 },
          { key: "EMPTY", value_length: 0 },
        ],
      });
    } finally {
      bytes.fill(0);
    }
  } finally {
    region.wipe();
  }
});

Deno.test("deliveries, forwarded signals and shim steps: ffi/constants.ts matches c/include/ct", () => {
  assert.deepEqual(C.deliveries, [...DELIVERIES]);
  assert.deepEqual(C.signals.map((s) => s.name), [...CAPTURED_SIGNALS]);
  for (const s of C.signals) {
    assert.equal(
      SIGNAL_NUMBERS[s.name as keyof typeof SIGNAL_NUMBERS],
      s.number,
      s.name,
    );
  }
  assert.equal(Object.keys(SIGNAL_NUMBERS).length, C.signals.length);
  assert.deepEqual(
    C.shim_steps.map((s) => s.value),
    SHIM_STEPS.map((_, i) => i),
  );
  assert.deepEqual(C.shim_steps.map((s) => s.call), [...SHIM_STEPS]);
});

Deno.test("the shim's calls: ffi/constants.ts CALLS matches c/include/ct/calls.h", () => {
  assert.deepEqual(C.calls, [...CALLS]);
});

Deno.test("the V8 flags: ffi/constants.ts V8_FLAGS matches c/include/ct/v8_flags.h", () => {
  assert.equal(C.v8_flags, V8_FLAGS);
});

Deno.test("HTTP client failures and flags: ffi/constants.ts matches c/include/ct/http.h", () => {
  assert.deepEqual(
    C.http.failures.map((f) => f.value),
    HTTP_FAILURES.map((_, i) => i),
  );
  assert.deepEqual(C.http.failures.map((f) => f.name), [...HTTP_FAILURES]);
  assert.equal(C.http.plain, HTTP.PLAIN);
  assert.equal(C.http.skip_verify, HTTP.SKIP_VERIFY);
  assert.deepEqual(C.http.pair, HTTP.PAIR.map((_, i) => i));
});

Deno.test("exit codes and errno names: ffi/constants.ts matches c/include/ct", () => {
  assert.deepEqual(C.exit, EXIT);
  assert.deepEqual(
    C.errnos,
    Object.fromEntries(
      Object.entries(ERRNO_NAMES).map(([n, name]) => [String(n), name]),
    ),
  );
  // Every errno reads the same on both sides, listed or not ("errno N").
  for (const [n, name] of Object.entries(C.errname)) {
    assert.equal(errnoName(Number(n)), name, `errno ${n}`);
  }
});

Deno.test("Linux constants passed through the FFI match the libc's headers", () => {
  assert.deepEqual(C.linux, {
    PROT,
    MAP,
    MADV,
    O_CLOEXEC,
    ACCESS,
    RLIM_INFINITY: String(RLIM_INFINITY),
  });
});

Deno.test("log line: the C programs write the wrapper's fields, time format and level names", () => {
  const levels = getLogLevels();
  for (const l of C.log_levels) assert.ok(levels.includes(l as never), l);
  assert.deepEqual(C.log_levels, ["info", "warning", "error"]);
  const message = 'a "quoted"\tmessage\\ with \u0001 control';
  const before = Date.now();
  const c = JSON.parse(dump(["log", "warning", message]));
  const record: LogRecord = {
    category: ["cloudtaser", "test"],
    level: "warning",
    message: [message],
    rawMessage: message,
    timestamp: Date.now(),
    properties: { extra: true },
  };
  const ts = JSON.parse(jsonLine(record));
  // The same members in the same order; "logger" (the LogTape category) is
  // the wrapper's own.
  assert.deepEqual(
    Object.keys(c),
    Object.keys(ts).filter((k) => k !== "logger"),
  );
  assert.equal(c.level, ts.level);
  assert.equal(c.message, ts.message);
  assert.equal(c.program, "constants_dump");
  assert.equal(typeof c.pid, typeof ts.pid);
  assert.equal(c.extra, true);
  // ISO 8601 UTC with milliseconds, as Date.toISOString() writes it, and
  // the real time.
  assert.match(c.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal(new Date(c.time).toISOString(), c.time);
  assert.match(ts.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  const t = Date.parse(c.time);
  assert.ok(t >= before - 1000 && t <= Date.now() + 1000, c.time);
});
