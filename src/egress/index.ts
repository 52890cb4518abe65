import { egressPolicyFor, type NetworkingConfig } from './policy.js';
import type { EgressProxy } from './proxy.js';

export * from './policy.js';
export * from './proxy.js';

interface ModelEndpoints<S> {
  openSession(sessionId: string): Promise<S>;
  closeSession(sessionId: string): Promise<void>;
  rehearse(sessionId: string, on: boolean): void;
}

/**
 * A session's two ways out of its sandbox, opened and closed together: the
 * model gateway and the egress proxy with the environment's policy.
 */
export function withEgress<S extends object>(gateway: ModelEndpoints<S>, egress: EgressProxy) {
  return {
    async openSession(sessionId: string, network?: { networking: NetworkingConfig | undefined; mcpServerUrls: string[] }): Promise<S & { egressSocket: string }> {
      const model = await gateway.openSession(sessionId);
      try {
        const policy = egressPolicyFor(network?.networking, network?.mcpServerUrls ?? []);
        const { socketPath } = await egress.openSession(sessionId, policy);
        return { ...model, egressSocket: socketPath };
      } catch (error) {
        await gateway.closeSession(sessionId);
        throw error;
      }
    },
    async closeSession(sessionId: string): Promise<void> {
      await Promise.all([gateway.closeSession(sessionId), egress.closeSession(sessionId)]);
    },
    rehearse(sessionId: string, on: boolean): void {
      gateway.rehearse(sessionId, on);
    },
  };
}
