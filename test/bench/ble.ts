// BLE link through the real noble stack against the HCI controller emulator (socat pty): frames
// per second each way and GATT writes per frame at the smallest and a large ATT MTU. These are
// host-stack figures (noble + our framing over a pty), not air figures: a real BLE link adds
// connection-interval pacing.
import { ax25From, startRig, watch, payload } from '../links/ble/rig.js';
import { EmulatedKissTnc, EmulatedNusDevice } from '../emulators/hci/devices.js';
import { until } from '../helpers/wait.js';

async function run(service: 'kiss' | 'nus', serverMtu: number, frames: number, size: number): Promise<Record<string, number>> {
  const rig = await startRig();
  try {
    const opts = { address: 'c4:00:00:00:00:10', name: 'BENCH', serverMtu };
    const dev = service === 'kiss' ? new EmulatedKissTnc(rig.ctl, opts) : new EmulatedNusDevice(rig.ctl, opts);
    const t = rig.transport({ 'link.ble0.service': service, 'link.ble0.name': 'BENCH', 'link.ble0.queue_frames': String(frames) });
    const seen = watch(t);
    const t0 = performance.now();
    await t.open();
    await until('link up', () => t.state === 'up' && dev.subscribed, 30_000);
    const connectMs = performance.now() - t0;

    const out = Array.from({ length: frames }, (_, i) => payload(size, i));
    const t1 = performance.now();
    await Promise.all(out.map((f) => t.send(f)));
    await dev.waitForFrames(frames);
    const txMs = performance.now() - t1;
    const writes = dev.writes.length;

    const t2 = performance.now();
    // The KISS TNC is an amateur board: frames travel as AX.25 UI frames.
    dev.sendFrames(service === 'kiss' ? out.map((f) => ax25From(f)) : out);
    await until('frames back', () => seen.frames.length === frames, 60_000);
    const rxMs = performance.now() - t2;
    if (!seen.frames.every((f, i) => f.equals(out[i]))) throw new Error('frames came back different');
    return {
      attMtu: t.attMtu ?? 0,
      frameBytes: size,
      frames,
      connectMs: Math.round(connectMs),
      txFramesPerSec: Math.round((frames / txMs) * 1000),
      txPayloadKBps: Math.round((frames * size) / txMs),
      gattWritesPerFrame: Number((writes / frames).toFixed(2)),
      rxFramesPerSec: Math.round((frames / rxMs) * 1000),
      rxPayloadKBps: Math.round((frames * size) / rxMs),
    };
  } finally {
    await rig.close();
  }
}

export async function bench(): Promise<Record<string, unknown>> {
  return {
    kissMtu23: await run('kiss', 23, 200, 200),
    kissMtu247: await run('kiss', 247, 200, 200),
    nusMtu23: await run('nus', 23, 200, 200),
    nusMtu247: await run('nus', 247, 200, 200),
  };
}
