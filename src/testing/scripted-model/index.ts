export { startScriptedModel, DEFAULT_REPLY } from './server.js';
export type { ScriptedModel, ScriptedModelOptions, RecordedRequest } from './server.js';
export { parseScript, lastUserText, stepMatches } from './script.js';
export type { Step, ParsedStep, StepUsage, ScriptBlock } from './script.js';
export { runScriptedModelCli } from './cli.js';
