/**
 * cloudtaser-wrapper: delivers Vault/OpenBao secrets to an application from
 * protected memory, as the container's PID 1.
 *
 * Kept tiny: src/boot.ts starts signal capture and Deno's crypto set-up
 * before the rest of the program is loaded (a dynamic import), so module
 * loading overlaps that set-up.
 */
import { startEarly } from "./boot.ts";

if (import.meta.main) {
  startEarly();
  const { main } = await import("./cli/main.ts");
  Deno.exit(await main(Deno.args));
}
