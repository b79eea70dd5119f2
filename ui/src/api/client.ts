// The typed HTTP client (openapi-fetch over the generated schema.d.ts), with the CSRF header on
// unsafe methods and problem+json errors turned into ApiError (whose message is `detail`).
import createClient, { type Middleware } from 'openapi-fetch';
import type { components, paths } from './schema';

export type Schemas = components['schemas'];
export type Me = Schemas['Me'];
export type Role = Schemas['Role'];
export type DagSummary = Schemas['DagSummary'];
export type ImportError = Schemas['ImportError'];
export type Dag = Schemas['Dag'];
export type DagTask = Dag['tasks'][number];
export type Run = Schemas['Run'];
export type RunState = Schemas['RunState'];
export type TaskState = Schemas['TaskState'];
export type TaskInstance = Schemas['TaskInstance'];
export type Cluster = Schemas['Cluster'];
export type Connection = Schemas['Connection'];
export type SparkApplication = Schemas['SparkApplication'];
export type Problem = Schemas['Problem'];
export type Grid =
  paths['/api/v1/dags/{dag_id}/grid']['get']['responses']['200']['content']['application/json'];
export type GridRun = Grid['runs'][number];
export type RunPage = { runs: Run[]; next_cursor: string | null };
export type LogChunk =
  paths['/api/v1/dags/{dag_id}/runs/{run_id}/tasks/{task_id}/logs/{try_number}']['get']['responses']['200']['content']['application/json'];
export type TryEvent =
  paths['/api/v1/dags/{dag_id}/runs/{run_id}/tasks/{task_id}/tries']['get']['responses']['200']['content']['application/json']['events'][number];

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code?: string,
  ) {
    super(message);
  }
}

let csrfToken = '';
export function setCsrfToken(token: string) {
  csrfToken = token;
}

let onUnauthorized: () => void = () => {};
export function setUnauthorizedHandler(f: () => void) {
  onUnauthorized = f;
}

const csrf: Middleware = {
  onRequest({ request }) {
    if (!['GET', 'HEAD', 'OPTIONS'].includes(request.method) && csrfToken) {
      request.headers.set('X-CSRF-Token', csrfToken);
    }
    return request;
  },
};

export const api = createClient<paths>({ baseUrl: '', credentials: 'same-origin' });
api.use(csrf);

type FetchResult<T> = { data?: T; error?: unknown; response: Response };

/** The data of an openapi-fetch result, or throws ApiError with the problem's detail. */
export async function ok<T>(p: Promise<FetchResult<T>>, opts: { quiet401?: boolean } = {}): Promise<T> {
  let r: FetchResult<T>;
  try {
    r = await p;
  } catch (e) {
    throw new ApiError(`cannot reach the server: ${e instanceof Error ? e.message : String(e)}`, 0);
  }
  if (r.response.ok) return (r.data ?? (undefined as T)) as T;
  const status = r.response.status;
  const problem = (r.error ?? {}) as Partial<Problem>;
  const message =
    problem.detail || problem.title || `${r.response.status} ${r.response.statusText || 'error'}`;
  if (status === 401 && !opts.quiet401) onUnauthorized();
  throw new ApiError(message, status, problem.code);
}

/** A URL under /api/v1 with each path segment URL-encoded (run ids hold ':' and '+'). */
export function apiUrl(segments: (string | number)[], query?: Record<string, string | number>) {
  let u = '/api/v1/' + segments.map((s) => encodeURIComponent(String(s))).join('/');
  if (query) u += '?' + new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)]));
  return u;
}

export const can = {
  operate: (role: Role | undefined) => role === 'operator' || role === 'admin',
  admin: (role: Role | undefined) => role === 'admin',
};

/** A request outside the typed paths (e.g. an endpoint the OpenAPI document does not list yet). */
export async function send<T>(method: string, url: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  const response = await fetch(url, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  }).catch((e: unknown) => {
    throw new ApiError(`cannot reach the server: ${e instanceof Error ? e.message : String(e)}`, 0);
  });
  const text = await response.text();
  let parsed: unknown = undefined;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (response.ok) return parsed as T;
  return ok(Promise.resolve({ error: parsed, response }));
}
