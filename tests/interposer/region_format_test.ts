/**
 * The region format has one definition per language: src/protect/
 * region_format.ts and c/sdk/cloudtaser.h (the supervisor, the interposer and
 * the test helpers include the header). This keeps the two equal.
 */
import assert from "node:assert/strict";
import * as fmt from "../../src/protect/region_format.ts";

const HEADER = new URL("../../c/sdk/cloudtaser.h", import.meta.url);

Deno.test("cloudtaser.h and region_format.ts define the same layout and flags", () => {
  const text = Deno.readTextFileSync(HEADER);
  const defs = new Map(
    [...text.matchAll(/^#define (CLOUDTASER_\w+) (0x[0-9a-f]+|\d+)u?\b/gm)]
      .map((m) => [m[1], Number(m[2])]),
  );
  const magic = /^#define CLOUDTASER_MAGIC "(\w+)"/m.exec(text)?.[1];
  assert.equal(magic, new TextDecoder().decode(fmt.MAGIC));
  const want: Record<string, number> = {
    CLOUDTASER_HEADER_SIZE: fmt.HEADER_SIZE,
    CLOUDTASER_CANARY_SIZE: fmt.CANARY_SIZE,
    CLOUDTASER_OFF_RECORDS_OFFSET: fmt.OFF_RECORDS_OFFSET,
    CLOUDTASER_OFF_RECORDS_LENGTH: fmt.OFF_RECORDS_LENGTH,
    CLOUDTASER_OFF_RECORD_COUNT: fmt.OFF_RECORD_COUNT,
    CLOUDTASER_OFF_DATA_SIZE: fmt.OFF_DATA_SIZE,
    CLOUDTASER_OFF_FLAGS: fmt.OFF_FLAGS,
    CLOUDTASER_OFF_CANARY: fmt.OFF_CANARY,
    CLOUDTASER_FLAG_CHILD_ENV_FALLBACK: fmt.FLAGS.CHILD_ENV_FALLBACK,
    CLOUDTASER_FLAG_APP_CORE_DUMPS: fmt.FLAGS.APP_CORE_DUMPS,
  };
  for (const [name, value] of Object.entries(want)) {
    assert.equal(defs.get(name), value, name);
  }
});
