// Prints SALT_EXCEPTIONS for src/codec/fec.ts: the k (1..4096, the frame format's MAX_K) whose
// encoder system is singular with salt 0, and the first salt that works. Run after any change to
// the code's rows: node dist/test/codec/fec-salts.js [fromK] [toK]
import { systematicSolvable } from '../../src/codec/fec.js';
import { MAX_K } from '../../src/codec/frames.js';

const from = Number(process.argv[2] ?? 1);
const to = Number(process.argv[3] ?? MAX_K);
const found: Array<[number, number]> = [];
for (let k = from; k <= to; k++) {
  let salt = 0;
  while (!systematicSolvable(k, salt)) salt++;
  if (salt !== 0) {
    found.push([k, salt]);
    process.stderr.write(`k=${k} salt=${salt}\n`);
  }
}
process.stdout.write(JSON.stringify(found) + '\n');
