/**
 * Error codes and their HTTP statuses. The `type` strings are the Anthropic API's
 * error types, so the official client raises the matching class
 * (BadRequestError, AuthenticationError, NotFoundError, ...).
 */
export const ErrorCode = {
  invalidRequest: 'invalid_request_error',
  authentication: 'authentication_error',
  permission: 'permission_error',
  notFound: 'not_found_error',
  conflict: 'conflict_error',
  requestTooLarge: 'request_too_large',
  rateLimit: 'rate_limit_error',
  api: 'api_error',
  overloaded: 'overloaded_error',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** A code without a status fails to compile. */
export const errorStatus: Record<ErrorCode, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  permission_error: 403,
  not_found_error: 404,
  conflict_error: 409,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  overloaded_error: 529,
};

/** The one error type services throw; the API's error handler renders it. */
export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'AppError';
  }

  get status(): number {
    return errorStatus[this.code];
  }

  /** The body the Anthropic API sends for an error. */
  toBody(requestId?: string): { type: 'error'; error: { type: ErrorCode; message: string; details?: Record<string, unknown> }; request_id?: string } {
    // Only `error_code` is public detail (the client keys error subclasses on it);
    // other details are for logs.
    const errorCode = this.details?.error_code;
    return {
      type: 'error',
      error: { type: this.code, message: this.message, ...(typeof errorCode === 'string' ? { details: { error_code: errorCode } } : {}) },
      ...(requestId ? { request_id: requestId } : {}),
    };
  }
}

export const notFound = (what: string, id: string): AppError =>
  new AppError(ErrorCode.notFound, `${what} ${JSON.stringify(id)} not found`);

export const invalid = (message: string, details?: Record<string, unknown>): AppError =>
  new AppError(ErrorCode.invalidRequest, message, details);

export const conflict = (message: string): AppError => new AppError(ErrorCode.conflict, message);
