/** OpenAI-shaped API errors: `{"error": {"message", "type", "param", "code"}}` with an HTTP status. */

export type ErrorType = 'invalid_request_error' | 'authentication_error' | 'not_found_error' | 'rate_limit_error' | 'server_error';

export interface ErrorBody {
  error: { message: string; type: ErrorType; param: string | null; code: string | null };
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: ErrorType = 'invalid_request_error',
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  body(): ErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export const badRequest = (message: string, param: string | null = null, code: string | null = null): ApiError =>
  new ApiError(400, message, 'invalid_request_error', param, code);

export const unauthorized = (): ApiError =>
  new ApiError(401, 'Incorrect or missing API key: pass it as "Authorization: Bearer <key>"', 'authentication_error', null, 'invalid_api_key');

export const notFound = (what: string): ApiError => new ApiError(404, `${what} not found`, 'not_found_error', null, 'not_found');

export const busy = (waiting: number): ApiError =>
  new ApiError(429, `the server is busy (${waiting} requests waiting); retry later`, 'rate_limit_error', null, 'queue_full');

export const tooLarge = (limit: number): ApiError =>
  new ApiError(413, `request body larger than ${limit} bytes`, 'invalid_request_error', null, 'request_too_large');

/** Any thrown value as an ApiError (unexpected ones become 500s carrying their message). */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new ApiError(500, message, 'server_error', null, 'internal_error');
}
