import { silentLogger } from '../../logger.js';
import { runSandboxContract } from '../contract.js';
import { ProcessProvider } from './provider.js';

runSandboxContract('process', ({ runtimeDir }) => new ProcessProvider({ runtimeDir, log: silentLogger() }), { isolated: false });
