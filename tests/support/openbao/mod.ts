/** A real OpenBao shared by the tests of one file, and a way to seed it. */
import assert from "node:assert/strict";
import { type OpenBao, startOpenBao } from "./server.ts";

/** One server for a test file: `await server()` in each test, `stop()` in the last. */
export function sharedServer(): {
  server: () => Promise<OpenBao>;
  stop: () => Promise<void>;
} {
  let started: Promise<OpenBao> | undefined;
  return {
    server: () => started ??= startOpenBao(),
    stop: async () => {
      if (started) await (await started).stop();
    },
  };
}

/** Writes a KV v2 secret (`secret/data/<p>`) or KV v1 one (`kv/<p>`). */
export async function put(
  bao: OpenBao,
  path: string,
  data: Record<string, unknown>,
  namespace?: string,
): Promise<void> {
  const body = path.startsWith("secret/data/") ? { data } : data;
  const r = await bao.api("POST", path, body, { namespace });
  assert.ok(
    r.status < 300,
    `write ${path}: ${r.status} ${JSON.stringify(r.json)}`,
  );
}
