// Hash routes (#/dags/ID/grid?run=R): no server rewrites needed.
import { useSyncExternalStore } from 'react';

export type Route = { parts: string[]; query: URLSearchParams; hash: string };

function subscribe(cb: () => void) {
  window.addEventListener('hashchange', cb);
  return () => window.removeEventListener('hashchange', cb);
}

let cachedHash = '';
let cached: Route = { parts: [], query: new URLSearchParams(), hash: '' };

function snapshot(): Route {
  const hash = window.location.hash;
  if (hash !== cachedHash) {
    cachedHash = hash;
    const raw = hash.replace(/^#\/?/, '');
    const q = raw.indexOf('?');
    const path = q < 0 ? raw : raw.slice(0, q);
    cached = {
      parts: path.split('/').filter(Boolean).map(decodeURIComponent),
      query: new URLSearchParams(q < 0 ? '' : raw.slice(q + 1)),
      hash,
    };
  }
  return cached;
}

export function useRoute(): Route {
  return useSyncExternalStore(subscribe, snapshot, snapshot);
}

/** '#/a/b?x=1' built from raw segments (each URL-encoded). */
export function href(segments: (string | number)[], query?: Record<string, string | undefined>): string {
  let h = '#/' + segments.map((s) => encodeURIComponent(String(s))).join('/');
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') q.set(k, v);
    const s = q.toString();
    if (s) h += '?' + s;
  }
  return h;
}

export function navigate(h: string) {
  if (window.location.hash !== h) window.location.hash = h;
}

export const links = {
  dags: () => href([]),
  dag: (dag: string, tab = 'grid', run?: string) => href(['dags', dag, tab], { run }),
  trigger: (dag: string) => href(['dags', dag, 'trigger']),
  run: (dag: string, run: string) => href(['dags', dag, 'runs', run]),
  task: (dag: string, run: string, task: string, tryNumber?: number) =>
    href(['dags', dag, 'runs', run, 'tasks', task], { try: tryNumber ? String(tryNumber) : undefined }),
  clusters: () => href(['clusters']),
  connections: () => href(['connections']),
  access: () => href(['access']),
};
