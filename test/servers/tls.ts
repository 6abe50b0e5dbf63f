// A throwaway self-signed certificate for 127.0.0.1, made with the real openssl.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';

export interface TestCert {
  dir: string;
  certPath: string;
  cert: Buffer;
  key: Buffer;
  /** SHA-256 fingerprint, colon-separated upper-case hex (as Node prints it). */
  fingerprint256: string;
  remove(): void;
}

export function makeSelfSignedCert(): TestCert {
  const dir = mkdtempSync(join(tmpdir(), 'altnet-cert-'));
  const certPath = join(dir, 'cert.pem');
  const keyPath = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      keyPath,
      '-out',
      certPath,
      '-days',
      '2',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ],
    { stdio: 'pipe' },
  );
  const fp = execFileSync('openssl', ['x509', '-in', certPath, '-noout', '-fingerprint', '-sha256'], { encoding: 'utf8' });
  const fingerprint256 = fp.trim().split('=')[1];
  return {
    dir,
    certPath,
    cert: readFileSync(certPath),
    key: readFileSync(keyPath),
    fingerprint256,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A certificate made before the suite's tests and removed after them: call the getter in a test. */
export function certForSuite(): () => TestCert {
  let cert: TestCert | undefined;
  beforeAll(() => {
    cert = makeSelfSignedCert();
  });
  afterAll(() => cert?.remove());
  return () => {
    if (!cert) throw new Error('certForSuite: the certificate is made in beforeAll; call the getter inside a test');
    return cert;
  };
}
