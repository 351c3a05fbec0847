/**
 * The smallest real run until the wrapper's demo replaces it: allocate a
 * protected region, store a generated secret, show what protects it, wipe.
 */
import { hardenProcess, SecretRegion, vmaAt } from "../src/protect/mod.ts";

hardenProcess();
const region = SecretRegion.create();
const secret = crypto.getRandomValues(new Uint8Array(32));
region.append("DEMO_SECRET", secret);
secret.fill(0);
const vma = vmaAt(region.address);
console.log(
  `region: ${region.backing}, ${region.size} bytes at 0x${
    region.address.toString(16)
  }`,
);
console.log(
  `mapping: ${vma?.path}  VmFlags: ${[...(vma?.flags ?? [])].join(" ")}`,
);
for (const w of region.warnings) console.log(`warning: ${w}`);
console.log(`wipe: ${JSON.stringify(region.wipe())}`);
