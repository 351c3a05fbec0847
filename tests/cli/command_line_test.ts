import assert from "node:assert/strict";
import {
  appCommand,
  CommandLineError,
  splitWords,
} from "../../src/cli/command_line.ts";

Deno.test("words after -- win over CLOUDTASER_ORIGINAL_CMD", () => {
  assert.deepEqual(appCommand(["/bin/app", "-x"], "/bin/other"), [
    "/bin/app",
    "-x",
  ]);
});

Deno.test("CLOUDTASER_ORIGINAL_CMD as a JSON array is taken exactly", () => {
  assert.deepEqual(appCommand([], '["/bin/sh", "-c", "echo  \\"a b\\""]'), [
    "/bin/sh",
    "-c",
    'echo  "a b"',
  ]);
  assert.throws(() => appCommand([], "[1,2]"), CommandLineError);
  assert.throws(() => appCommand([], "[oops"), /not a JSON array/);
});

Deno.test("CLOUDTASER_ORIGINAL_CMD as a string splits on blanks with quotes", () => {
  assert.deepEqual(splitWords(`app --name 'a b' "c \\"d\\"" e\\ f ''`), [
    "app",
    "--name",
    "a b",
    'c "d"',
    "e f",
    "",
  ]);
  assert.throws(() => splitWords("app 'open"), /unterminated ' quote/);
});

Deno.test("no command at all names both ways to give one", () => {
  assert.throws(
    () => appCommand([], undefined),
    /give one after --.*CLOUDTASER_ORIGINAL_CMD/,
  );
  assert.throws(() => appCommand([], "   "), CommandLineError);
});
