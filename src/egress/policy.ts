import { isIP } from 'node:net';

/**
 * Which hosts a sandbox may reach through the egress proxy, and which
 * addresses no sandbox ever reaches. Pure; `proxy.ts` does the I/O.
 *
 * Decisions are by host name. IP literals are refused outright (a policy by
 * name cannot vouch for an address), and a name is connected to only at an
 * address it resolved to that is public: never loopback, private,
 * link-local (cloud metadata lives there), CGNAT, multicast, reserved, or
 * one of agenthost's own addresses.
 */

export type EgressPolicy =
  | { type: 'unrestricted' }
  /** `hosts`: names, `*.suffix` for every subdomain, each with an optional `:port` (else 80 and 443). */
  | { type: 'limited'; hosts: string[] };

/** Public registries `allow_package_managers` opens: npm, PyPI, crates.io, RubyGems, the Go proxy, Debian and Ubuntu. */
export const PACKAGE_MANAGER_HOSTS = [
  'registry.npmjs.org', 'registry.yarnpkg.com',
  'pypi.org', 'files.pythonhosted.org',
  'crates.io', 'index.crates.io', 'static.crates.io',
  'rubygems.org', 'index.rubygems.org',
  'proxy.golang.org', 'sum.golang.org',
  'deb.debian.org', 'security.debian.org', 'archive.ubuntu.com', 'security.ubuntu.com',
];

export interface NetworkingConfig {
  type: 'unrestricted' | 'limited';
  allowed_hosts?: string[];
  allow_package_managers?: boolean;
  allow_mcp_servers?: boolean;
}

/** The policy for an environment's `networking`, given the agent's MCP server URLs. */
export function egressPolicyFor(networking: NetworkingConfig | undefined, mcpServerUrls: string[] = []): EgressPolicy {
  if (!networking || networking.type === 'unrestricted') return { type: 'unrestricted' };
  const hosts = [...(networking.allowed_hosts ?? [])];
  if (networking.allow_package_managers) hosts.push(...PACKAGE_MANAGER_HOSTS);
  if (networking.allow_mcp_servers) {
    for (const url of mcpServerUrls) {
      try {
        const u = new URL(url);
        hosts.push(u.port ? `${u.hostname}:${u.port}` : u.hostname);
      } catch {
        // Not a URL: a stdio server, nothing to reach.
      }
    }
  }
  return { type: 'limited', hosts: [...new Set(hosts.map((h) => h.toLowerCase()))] };
}

export type Decision = { allow: true } | { allow: false; reason: string };

/** Whether the policy names `host:port`; checked before any resolution. */
export function nameAllowed(policy: EgressPolicy, host: string, port: number): Decision {
  const name = host.toLowerCase().replace(/\.$/, '');
  if (isIP(name.replace(/^\[|\]$/g, '')) !== 0) return { allow: false, reason: 'IP literals are refused; use a host name' };
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(name)) return { allow: false, reason: 'not a valid host name' };
  if (policy.type === 'unrestricted') return { allow: true };
  for (const entry of policy.hosts) {
    const [pattern, entryPort] = entry.split(':');
    const ports = entryPort ? [Number(entryPort)] : [80, 443];
    if (!pattern || !ports.includes(port)) continue;
    if (pattern.startsWith('*.') ? name.endsWith(pattern.slice(1)) && name.length > pattern.length - 1 : name === pattern) return { allow: true };
  }
  return { allow: false, reason: 'not in the environment\'s allowed hosts' };
}

function v4ToInt(ip: string): number {
  return ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}

const V4_FORBIDDEN: Array<[string, number, string]> = [
  ['0.0.0.0', 8, 'unspecified'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'carrier-grade NAT (and cloud metadata)'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local (cloud metadata)'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'IETF reserved'],
  ['192.0.2.0', 24, 'documentation'],
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'benchmarking'],
  ['198.51.100.0', 24, 'documentation'],
  ['203.0.113.0', 24, 'documentation'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved'],
];

function v4Forbidden(ip: string): string | undefined {
  const n = v4ToInt(ip);
  for (const [base, bits, why] of V4_FORBIDDEN) {
    const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
    if (((n & mask) >>> 0) === ((v4ToInt(base) & mask) >>> 0)) return why;
  }
  return undefined;
}

/** The 8 groups of an IPv6 address as numbers (handles `::` and an embedded IPv4 tail). */
function v6Groups(ip: string): number[] {
  let text = ip.toLowerCase().split('%')[0]!;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const n = v4ToInt(v4[1]!);
    text = text.slice(0, -v4[1]!.length) + `${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const [head, tail] = text.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined ? (tail ? tail.split(':') : []) : [];
  const fill = tail !== undefined ? new Array(8 - h.length - t.length).fill('0') : [];
  return [...h, ...fill, ...t].map((g) => parseInt(g, 16));
}

/** Why `ip` must never be connected to, or undefined when it is a public address. */
export function forbiddenAddress(ip: string, own: ReadonlySet<string> = new Set()): string | undefined {
  if (own.has(ip)) return "one of agenthost's own addresses";
  const family = isIP(ip);
  if (family === 4) return v4Forbidden(ip);
  if (family !== 6) return 'not an IP address';
  const g = v6Groups(ip);
  const [a = 0, b = 0] = g;
  if (g.every((x) => x === 0)) return 'unspecified';
  if (g.slice(0, 7).every((x) => x === 0) && g[7] === 1) return 'loopback';
  // IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible, and NAT64 (64:ff9b::/96): judge the IPv4 inside.
  const embedded = `${g[6]! >> 8}.${g[6]! & 255}.${g[7]! >> 8}.${g[7]! & 255}`;
  if (g.slice(0, 5).every((x) => x === 0) && (g[5] === 0xffff || g[5] === 0)) return v4Forbidden(embedded) ?? (own.has(embedded) ? "one of agenthost's own addresses" : undefined);
  if (a === 0x64 && b === 0xff9b) return v4Forbidden(embedded);
  if ((a & 0xfe00) === 0xfc00) return 'unique local (private; cloud metadata)';
  if ((a & 0xffc0) === 0xfe80) return 'link-local';
  if ((a & 0xff00) === 0xff00) return 'multicast';
  if (a === 0x2001 && b === 0xdb8) return 'documentation';
  return undefined;
}
