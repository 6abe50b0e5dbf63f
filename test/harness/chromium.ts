// Debian's chromium, headless, driven over the DevTools protocol on a pipe
// (--remote-debugging-pipe: JSON messages, each ended by a NUL byte, written to the browser's
// fd 3 and read from its fd 4; see chromium's devtools_pipe_handler.cc). No npm package: the
// protocol needs only the few commands below (https://chromedevtools.github.io/devtools-protocol/).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';

export const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));

interface Pending {
  resolve(v: any): void;
  reject(e: Error): void;
}

export class Chromium {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private buf = Buffer.alloc(0);
  private session = '';
  readonly stderr: string[] = [];

  private constructor(
    private readonly child: ChildProcess,
    private readonly userDataDir: string,
  ) {
    const out = child.stdio[4] as Readable;
    out.on('data', (chunk: Buffer) => {
      this.buf = Buffer.concat([this.buf, chunk]);
      for (let nul = this.buf.indexOf(0); nul >= 0; nul = this.buf.indexOf(0)) {
        const msg = JSON.parse(this.buf.subarray(0, nul).toString('utf8'));
        this.buf = this.buf.subarray(nul + 1);
        const p = msg.id !== undefined ? this.pending.get(msg.id) : undefined;
        if (!p) continue;
        this.pending.delete(msg.id);
        if (msg.error) p.reject(new Error(`${msg.error.message} (${msg.error.code})`));
        else p.resolve(msg.result);
      }
    });
    child.stderr?.on('data', (b: Buffer) => {
      this.stderr.push(b.toString());
      if (this.stderr.length > 50) this.stderr.shift();
    });
    child.once('exit', () => {
      for (const p of this.pending.values()) p.reject(new Error(`chromium exited; stderr: ${this.stderr.join('').slice(-1500)}`));
      this.pending.clear();
    });
  }

  /** Starts a headless browser with a fresh profile and opens one page at `url`. */
  static async launch(url: string, size = { width: 1200, height: 1000 }): Promise<Chromium> {
    if (!CHROMIUM) throw new Error('chromium is not installed (apt-get install chromium; scripts/setup.sh does it)');
    const userDataDir = mkdtempSync(join(tmpdir(), 'altnet-chromium-'));
    const child = spawn(
      CHROMIUM,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--disable-default-apps',
        '--disable-extensions',
        '--no-first-run',
        '--no-default-browser-check',
        '--mute-audio',
        `--user-data-dir=${userDataDir}`,
        `--window-size=${size.width},${size.height}`,
        '--remote-debugging-pipe',
        'about:blank',
      ],
      { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] },
    );
    const b = new Chromium(child, userDataDir);
    const { targetInfos } = await b.send('Target.getTargets');
    let page = targetInfos.find((t: any) => t.type === 'page');
    if (!page) page = { targetId: (await b.send('Target.createTarget', { url: 'about:blank' })).targetId };
    b.session = (await b.send('Target.attachToTarget', { targetId: page.targetId, flatten: true })).sessionId;
    await b.send('Page.enable', {}, true);
    await b.send(
      'Emulation.setDeviceMetricsOverride',
      { width: size.width, height: size.height, deviceScaleFactor: 1, mobile: false },
      true,
    );
    await b.send('Page.navigate', { url }, true);
    return b;
  }

  /** One DevTools command; `onPage` sends it to the page's session instead of the browser. */
  send(method: string, params: object = {}, onPage = false): Promise<any> {
    const id = this.nextId++;
    const msg: Record<string, unknown> = { id, method, params };
    if (onPage) msg.sessionId = this.session;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      (this.child.stdio[3] as Writable).write(JSON.stringify(msg) + '\0');
    });
  }

  /** Evaluates an expression in the page and returns its value. */
  async evaluate<T>(expression: string): Promise<T> {
    const r = await this.send('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true }, true);
    if (r.exceptionDetails) throw new Error(`page threw: ${r.exceptionDetails.text}`);
    return r.result.value as T;
  }

  /** The page's visible text. */
  text(): Promise<string> {
    return this.evaluate<string>('document.body ? document.body.innerText : ""');
  }

  /** Waits until the page's text satisfies `cond`; returns that text. */
  async waitForText(what: string, cond: (text: string) => boolean, ms = 30_000): Promise<string> {
    const end = Date.now() + ms;
    let last = '';
    for (;;) {
      last = await this.text().catch(() => '');
      if (cond(last)) return last;
      if (Date.now() > end) throw new Error(`page never showed ${what}; it shows:\n${last.slice(0, 3000)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** A PNG of the whole page, written to `path`. */
  async screenshot(path: string): Promise<void> {
    const { data } = await this.send('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true }, true);
    writeFileSync(path, Buffer.from(data, 'base64'));
  }

  async close(): Promise<void> {
    if (this.child.exitCode === null) {
      const exited = new Promise((r) => this.child.once('exit', r));
      this.send('Browser.close').catch(() => undefined);
      const t = setTimeout(() => this.child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(t);
    }
    rmSync(this.userDataDir, { recursive: true, force: true });
  }
}
