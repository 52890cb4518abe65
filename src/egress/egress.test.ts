import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { connect, createServer as createTcpServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../logger.js';
import { egressPolicyFor, forbiddenAddress, nameAllowed } from './policy.js';
import { createEgressProxy, type EgressProxy } from './proxy.js';

describe('egress policy', () => {
  it('refuses forbidden addresses of both families and passes public ones', () => {
    for (const ip of ['127.0.0.1', '10.1.2.3', '172.20.0.1', '192.168.1.1', '169.254.169.254', '100.100.100.200', '0.0.0.0', '224.0.0.1', '::1', '::', 'fe80::1', 'fd00:ec2::254', '::ffff:127.0.0.1', '::ffff:169.254.169.254', '64:ff9b::a9fe:a9fe', 'ff02::1']) {
      assert.ok(forbiddenAddress(ip), ip);
    }
    for (const ip of ['93.184.215.14', '151.101.1.1', '2606:4700::6810:84e5', '::ffff:8.8.8.8']) assert.equal(forbiddenAddress(ip), undefined, ip);
    assert.match(forbiddenAddress('8.8.4.4', new Set(['8.8.4.4']))!, /own/);
  });

  it('decides by name: IP literals never, limited lists by name, suffix and port', () => {
    const limited = egressPolicyFor({ type: 'limited', allowed_hosts: ['pypi.org', '*.example.com', 'git.corp.dev:8443'] });
    assert.equal(nameAllowed(limited, 'pypi.org', 443).allow, true);
    assert.equal(nameAllowed(limited, 'PyPI.org.', 80).allow, true);
    assert.equal(nameAllowed(limited, 'pypi.org', 22).allow, false);
    assert.equal(nameAllowed(limited, 'a.b.example.com', 443).allow, true);
    assert.equal(nameAllowed(limited, 'example.com', 443).allow, false);
    assert.equal(nameAllowed(limited, 'evilexample.com', 443).allow, false);
    assert.equal(nameAllowed(limited, 'git.corp.dev', 8443).allow, true);
    assert.equal(nameAllowed(limited, 'git.corp.dev', 443).allow, false);
    assert.equal(nameAllowed(limited, 'registry.npmjs.org', 443).allow, false);
    assert.equal(nameAllowed(egressPolicyFor({ type: 'limited', allow_package_managers: true }), 'registry.npmjs.org', 443).allow, true);
    assert.equal(nameAllowed(egressPolicyFor({ type: 'limited', allow_mcp_servers: true }, ['https://mcp.example.org/sse']), 'mcp.example.org', 443).allow, true);
    for (const ip of ['1.1.1.1', '[::1]', '::1', '2606:4700::1']) assert.equal(nameAllowed({ type: 'unrestricted' }, ip, 443).allow, false, ip);
  });
});

describe('egress proxy', () => {
  let dir: string;
  let proxy: EgressProxy;
  let socketPath: string;
  let originPort: number;
  const origin = createServer((req, res) => res.end(`origin saw ${req.method} ${req.url} host=${req.headers.host}`));
  const tls = createTcpServer((s) => s.end('raw-tunnel-ok'));
  let tlsPort: number;
  const names: Record<string, string[]> = {
    'allowed.test': ['93.184.215.14'],
    'rebind.test': ['93.184.215.14', '10.0.0.5'],
    'metadata.test': ['169.254.169.254'],
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'aheg-'));
    await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
    await new Promise<void>((r) => tls.listen(0, '127.0.0.1', r));
    originPort = (origin.address() as AddressInfo).port;
    tlsPort = (tls.address() as AddressInfo).port;
    proxy = await createEgressProxy({
      socketDir: dir,
      log: silentLogger(),
      resolve: async (h) => {
        const a = names[h];
        if (!a) throw Object.assign(new Error('nx'), { code: 'ENOTFOUND' });
        return a;
      },
      // The checked public address stands for this machine's test servers: nothing leaves the host.
      connect: (_address, port) => connect({ host: '127.0.0.1', port: port === 80 ? originPort : tlsPort }),
    });
    ({ socketPath } = await proxy.openSession('sesn_eg', { type: 'limited', hosts: ['allowed.test', 'rebind.test', 'metadata.test', 'localhost'] }));
  });

  after(async () => {
    await proxy.close();
    origin.close();
    tls.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function connectVia(target: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const s = connect(socketPath);
      let out = '';
      s.on('data', (d) => (out += d));
      s.on('end', () => resolve(out));
      s.on('close', () => resolve(out));
      s.on('error', reject);
      s.write(`CONNECT ${target} HTTP/1.1\r\nhost: ${target}\r\n\r\n`);
    });
  }

  function getVia(url: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = request({ socketPath, path: url, headers: { host: new URL(url).host } }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('tunnels CONNECT to an allowed name', async () => {
    const out = await connectVia('allowed.test:443');
    assert.match(out, /^HTTP\/1.1 200 Connection Established\r\n\r\nraw-tunnel-ok$/);
  });

  it('forwards plain HTTP to an allowed name', async () => {
    assert.deepEqual(await getVia('http://allowed.test/x?y=1'), { status: 200, body: 'origin saw GET /x?y=1 host=allowed.test' });
  });

  it('denies names not allowed, IP literals, forbidden resolutions and unknown names, with the reason', async () => {
    const cases: Array<[string, RegExp]> = [
      ['denied.test:443', /not in the environment's allowed hosts/],
      ['1.1.1.1:443', /IP literals/],
      ['[::1]:443', /IP literals/],
      ['rebind.test:443', /10\.0\.0\.5 \(private\)/],
      ['metadata.test:443', /169\.254\.169\.254/],
      ['localhost:443', /does not resolve|loopback/],
      ['allowed.test:22', /not in the environment's allowed hosts/],
    ];
    for (const [target, reason] of cases) {
      const out = await connectVia(target);
      assert.match(out, /^HTTP\/1.1 403 Forbidden/, target);
      assert.match(out, reason, target);
    }
    const plain = await getVia('http://metadata.test/latest/meta-data/');
    assert.equal(plain.status, 403);
  });
});
