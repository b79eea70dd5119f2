// The one Server-Sent Events stream of this tab. Events are queued and applied to the TanStack
// Query cache at most once per animation frame; details that events do not carry (timestamps,
// exit codes) are refetched for the queries on screen, at most once a second per query.
// The stream is closed while the tab is hidden and resumed (last_event_id) when it shows again.
import { useSyncExternalStore } from 'react';
import type { QueryClient, QueryKey } from '@tanstack/react-query';
import type { DagSummary, Run, TaskInstance } from './api/client';
import { keys, type GridData, type RunsData } from './queries';

type StateEvent = {
  dag_id: string;
  run_id: string;
  state: string;
  task_id?: string;
  try_number?: number;
  [k: string]: unknown;
};
type Queued = { type: string; data: StateEvent | null };

export type StreamStatus = 'connecting' | 'live' | 'offline' | 'paused';

let status: StreamStatus = 'connecting';
const listeners = new Set<() => void>();
function setStatus(s: StreamStatus) {
  if (s === status) return;
  status = s;
  listeners.forEach((l) => l());
}
export function useStreamStatus(): StreamStatus {
  return useSyncExternalStore(
    (cb) => {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    () => status,
  );
}

/** Applied-event counter, for tests and debugging (window.__sparkplaneEvents). */
let applied = 0;

export function startEventStream(qc: QueryClient): () => void {
  let es: EventSource | null = null;
  let lastId = '';
  let queue: Queued[] = [];
  let frame = 0;
  const stale = new Map<string, QueryKey>();
  let staleTimer = 0;
  let stopped = false;

  const refetchSoon = (key: QueryKey) => {
    stale.set(JSON.stringify(key), key);
    if (!staleTimer) {
      staleTimer = window.setTimeout(() => {
        staleTimer = 0;
        const ks = [...stale.values()];
        stale.clear();
        for (const k of ks) void qc.invalidateQueries({ queryKey: k, refetchType: 'active' });
      }, 1000);
    }
  };

  const flush = () => {
    frame = 0;
    const batch = queue;
    queue = [];
    for (const e of batch) apply(e);
    applied += batch.length;
    (window as unknown as { __sparkplaneEvents: number }).__sparkplaneEvents = applied;
  };

  const apply = ({ type, data }: Queued) => {
    if (type === 'reset') {
      void qc.invalidateQueries();
      return;
    }
    if (type === 'dags') {
      for (const k of [keys.dags, ['dag'], ['source'], ['grid']]) refetchSoon(k);
      return;
    }
    if (type === 'cluster') {
      refetchSoon(keys.clusters);
      return;
    }
    if (!data || !data.dag_id || !data.run_id) return;
    if (type === 'task' && data.task_id) applyTask(data);
    else if (type === 'run') applyRun(data);
  };

  const applyTask = (e: StateEvent) => {
    const { dag_id: dag, run_id: run, task_id: task } = e as Required<StateEvent>;
    let known = false;
    qc.setQueryData<GridData>(keys.grid(dag), (g) => {
      if (!g || !g.pages.length) return g;
      const first = g.pages[0];
      const col = first.tasks.indexOf(task);
      const ch = Object.entries(first.legend).find(([, name]) => name === e.state)?.[0];
      if (col < 0 || ch === undefined) return g;
      let changed = false;
      const pages = g.pages.map((p) => {
        const i = p.runs.findIndex((r) => r.run_id === run);
        if (i < 0) return p;
        known = true;
        const r = p.runs[i];
        const states = r.states.padEnd(first.tasks.length, '.');
        if (states[col] === ch) return p;
        changed = true;
        const runs = p.runs.slice();
        runs[i] = { ...r, states: states.slice(0, col) + ch + states.slice(col + 1) };
        return { ...p, runs };
      });
      return changed ? { ...g, pages } : g;
    });
    if (!known && qc.getQueryData(keys.grid(dag))) refetchSoon(keys.grid(dag));
    const patch = (ti: TaskInstance): TaskInstance => ({
      ...ti,
      state: e.state as TaskInstance['state'],
      try_number: typeof e.try_number === 'number' && e.try_number > 0 ? e.try_number : ti.try_number,
      reason: typeof e.reason === 'string' ? e.reason : ti.reason,
    });
    qc.setQueryData<{ tasks: TaskInstance[] }>(keys.tis(dag, run), (d) =>
      d ? { tasks: d.tasks.map((t) => (t.task_id === task ? patch(t) : t)) } : d,
    );
    qc.setQueryData<TaskInstance>(keys.ti(dag, run, task), (t) => (t ? patch(t) : t));
    refetchSoon(keys.tis(dag, run));
    refetchSoon(keys.ti(dag, run, task));
    refetchSoon(keys.tries(dag, run, task));
  };

  const applyRun = (e: StateEvent) => {
    const { dag_id: dag, run_id: run } = e;
    const state = e.state as Run['state'];
    qc.setQueryData<Run>(keys.run(dag, run), (r) => (r ? { ...r, state } : r));
    refetchSoon(keys.run(dag, run));
    let inGrid = false;
    qc.setQueryData<GridData>(keys.grid(dag), (g) => {
      if (!g) return g;
      const pages = g.pages.map((p) => ({
        ...p,
        runs: p.runs.map((r) => {
          if (r.run_id !== run) return r;
          inGrid = true;
          return { ...r, state };
        }),
      }));
      return { ...g, pages };
    });
    if (!inGrid && qc.getQueryData(keys.grid(dag))) {
      // A new run: show its row at once, then fetch its details.
      qc.setQueryData<GridData>(keys.grid(dag), (g) => {
        if (!g || !g.pages.length) return g;
        const first = g.pages[0];
        const none = Object.entries(first.legend).find(([, n]) => n === 'none')?.[0] ?? '0';
        const row = {
          run_id: run,
          state,
          logical_date: (e.logical_date as string) ?? (e.at as string) ?? '',
          started_at: null,
          ended_at: null,
          states: none.repeat(first.tasks.length),
        };
        return { ...g, pages: [{ ...first, runs: [row, ...first.runs] }, ...g.pages.slice(1)] };
      });
      refetchSoon(keys.grid(dag));
    } else if (state === 'success' || state === 'failed' || state === 'cancelled') {
      refetchSoon(keys.grid(dag)); // ended_at
    }
    let inRuns = false;
    qc.setQueryData<RunsData>(keys.runs(dag), (d) =>
      d
        ? {
            ...d,
            pages: d.pages.map((p) => ({
              ...p,
              runs: p.runs.map((r) => {
                if (r.run_id !== run) return r;
                inRuns = true;
                return { ...r, state };
              }),
            })),
          }
        : d,
    );
    if (!inRuns || state !== 'running') refetchSoon(keys.runs(dag));
    let inList = false;
    qc.setQueryData<{ dags: DagSummary[]; import_errors: unknown[] }>(keys.dags, (d) =>
      d
        ? {
            ...d,
            dags: d.dags.map((s) =>
              s.dag_id !== dag
                ? s
                : {
                    ...s,
                    recent_runs: s.recent_runs.map((r) => {
                      if (r.run_id !== run) return r;
                      inList = true;
                      return { ...r, state };
                    }),
                  },
            ),
          }
        : d,
    );
    if (!inList) refetchSoon(keys.dags);
  };

  const onEvent = (ev: MessageEvent<string>) => {
    if (ev.lastEventId) lastId = ev.lastEventId;
    let data: StateEvent | null = null;
    try {
      data = ev.data ? (JSON.parse(ev.data) as StateEvent) : null;
    } catch {
      data = null;
    }
    queue.push({ type: ev.type, data });
    if (!frame) frame = requestAnimationFrame(flush);
  };

  const open = () => {
    if (es || stopped) return;
    setStatus('connecting');
    const url = '/api/v1/events' + (lastId ? `?last_event_id=${encodeURIComponent(lastId)}` : '');
    es = new EventSource(url, { withCredentials: true });
    es.onopen = () => setStatus('live');
    es.onerror = () => setStatus(es && es.readyState === EventSource.CLOSED ? 'offline' : 'connecting');
    for (const t of ['run', 'task', 'cluster', 'dags', 'reset']) {
      es.addEventListener(t, onEvent as EventListener);
    }
  };
  const close = () => {
    es?.close();
    es = null;
  };
  const onVisibility = () => {
    if (document.hidden) {
      close();
      setStatus('paused');
    } else {
      open();
      // Anything missed while hidden and past the server's buffer comes as `reset`.
    }
  };
  document.addEventListener('visibilitychange', onVisibility);
  if (!document.hidden) open();
  else setStatus('paused');

  return () => {
    stopped = true;
    document.removeEventListener('visibilitychange', onVisibility);
    close();
    if (frame) cancelAnimationFrame(frame);
    if (staleTimer) clearTimeout(staleTimer);
  };
}
