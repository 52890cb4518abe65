/**
 * The API's types, from the official client's declarations (type-only: none
 * of the client ships in the bundle), plus agenthost's additive extensions.
 */
import type Anthropic from '@anthropic-ai/sdk';

export type SessionEvent = Anthropic.Beta.Sessions.BetaManagedAgentsSessionEvent;
export type ToolUseEvent = Anthropic.Beta.Sessions.BetaManagedAgentsAgentToolUseEvent;
export type McpToolUseEvent = Anthropic.Beta.Sessions.BetaManagedAgentsAgentMCPToolUseEvent;
export type CustomToolUseEvent = Anthropic.Beta.Sessions.BetaManagedAgentsAgentCustomToolUseEvent;
export type StatusIdleEvent = Anthropic.Beta.Sessions.BetaManagedAgentsSessionStatusIdleEvent;
export type ModelRequestEndEvent = Anthropic.Beta.Sessions.BetaManagedAgentsSpanModelRequestEndEvent;
export type EventParams = Anthropic.Beta.Sessions.BetaManagedAgentsEventParams;
export type SessionEventType = Anthropic.Beta.Sessions.BetaManagedAgentsSessionEventType;

export type Agent = Anthropic.Beta.BetaManagedAgentsAgent;
export type AgentCreateParams = Anthropic.Beta.AgentCreateParams;
export type AgentUpdateParams = Anthropic.Beta.AgentUpdateParams;
export type AgentToolset = Anthropic.Beta.BetaManagedAgentsAgentToolset20260401;

export type Environment = Anthropic.Beta.BetaEnvironment;
export type EnvironmentCreateParams = Anthropic.Beta.EnvironmentCreateParams;
export type EnvironmentUpdateParams = Anthropic.Beta.EnvironmentUpdateParams;

export type SessionCreateParams = Anthropic.Beta.SessionCreateParams;
export type ApiSession = Anthropic.Beta.BetaManagedAgentsSession;
export type SessionStatus = ApiSession['status'];

/** agenthost's `session.runtime` extension; `cost` appears on servers that price sessions. */
export interface SessionRuntime {
  sandbox_state?: string | null;
  provider?: string | null;
  pattern?: string | null;
  cli_version?: string | null;
  cost?: { tokens_usd: number; sandbox_usd: number; total_usd: number } | null;
}

export type Session = ApiSession & { runtime?: SessionRuntime | null };

/** agenthost's `environment.config` extensions (sandbox provider and limits, lifecycle). */
export interface EnvironmentExtensions {
  sandbox?: {
    provider?: string | null;
    memory_mib?: number | null;
    cpus?: number | null;
    pids?: number | null;
    disk_mib?: number | null;
    tool_timeout_s?: number | null;
  } | null;
  lifecycle?: { pattern?: string | null; idle_timeout_s?: number | null; max_lifetime_s?: number | null } | null;
}

export interface ListPage<T> {
  data: T[];
  next_page: string | null;
  prev_page?: string | null;
  has_more?: boolean;
}

/** The body of every API error: `{"type":"error","error":{"type","message"}}`. */
export interface ErrorBody {
  type: 'error';
  error: { type: string; message: string };
  request_id?: string;
}
