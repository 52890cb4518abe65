import type { SandboxProvider } from '../sandbox/provider.js';

/** A named readiness check for `GET /readyz`; `required` ones failing make the server unready. */
export interface ReadinessCheck {
  name: string;
  required: boolean;
  run(): Promise<void>;
}

/**
 * Readiness checks for the sandbox providers. A provider check spawns
 * bubblewrap, too costly for every probe, so its outcome is kept for
 * `cacheMs`; the default provider is required, the others are reported.
 */
export function providerChecks(providers: ReadonlyMap<string, SandboxProvider>, defaultProvider: string, cacheMs = 30_000): ReadinessCheck[] {
  return [...providers].map(([name, provider]) => {
    let last: { at: number; result: Promise<void> } | undefined;
    return {
      name: `provider.${name}`,
      required: name === defaultProvider,
      run() {
        const now = Date.now();
        // Shared by concurrent probes; a failure is retried on the next probe.
        if (!last || now - last.at > cacheMs) {
          const result = provider.check();
          last = { at: now, result };
          result.catch(() => {
            if (last?.result === result) last = undefined;
          });
        }
        return last.result;
      },
    };
  });
}
