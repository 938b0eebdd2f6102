import { signal } from '@preact/signals';

export interface User {
  id: string;
  slug: string;
  email: string;
  admin: boolean;
}

/** The signed-in user: undefined while asking the server, null when nobody is signed in. */
export const me = signal<User | null | undefined>(undefined);
let csrf = '';

/** An error body of the API (`{error_code, message, request_id, details}`). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** One call to the public API as the signed-in user (cookie plus the CSRF header). */
export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrf) headers['x-conveyor-csrf'] = csrf;
  const response = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  const parsed: unknown = text ? JSON.parse(text) : undefined;
  if (!response.ok) {
    const e = (parsed ?? {}) as { error_code?: string; message?: string; details?: Record<string, string> };
    if (response.status === 401 && path !== '/session') me.value = null;
    throw new ApiError(response.status, e.error_code ?? 'Error', e.message ?? response.statusText, e.details);
  }
  return parsed as T;
}

export async function loadSession(): Promise<void> {
  try {
    const s = await api<{ user: User; csrf_token: string }>('GET', '/session');
    csrf = s.csrf_token;
    me.value = s.user;
  } catch {
    me.value = null;
  }
}

export async function signIn(token: string): Promise<void> {
  const s = await api<{ user: User; csrf_token: string }>('POST', '/session', { token });
  csrf = s.csrf_token;
  me.value = s.user;
}

export async function signOut(): Promise<void> {
  await api('DELETE', '/session');
  csrf = '';
  me.value = null;
}

/** `/repos/{org}/{repo}` for API paths. */
export const repoApi = (org: string, repo: string) =>
  `/repos/${encodeURIComponent(org)}/${encodeURIComponent(repo)}`;
