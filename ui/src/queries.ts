// Server state: every read is a TanStack query; the SSE stream (events.ts) patches these caches.
import { useInfiniteQuery, useQuery, type InfiniteData } from '@tanstack/react-query';
import { api, ok, type Grid, type RunPage } from './api/client';

export const keys = {
  me: ['me'] as const,
  dags: ['dags'] as const,
  dag: (dag: string) => ['dag', dag] as const,
  source: (dag: string) => ['source', dag] as const,
  grid: (dag: string) => ['grid', dag] as const,
  runs: (dag: string) => ['runs', dag] as const,
  run: (dag: string, run: string) => ['run', dag, run] as const,
  tis: (dag: string, run: string) => ['tis', dag, run] as const,
  ti: (dag: string, run: string, task: string) => ['ti', dag, run, task] as const,
  tries: (dag: string, run: string, task: string) => ['tries', dag, run, task] as const,
  clusters: ['clusters'] as const,
  connections: ['connections'] as const,
  spark: (app: string) => ['spark', app] as const,
};

export type GridData = InfiniteData<Grid, string | null>;
export type RunsData = InfiniteData<RunPage, string | null>;

export const GRID_PAGE = 200;

export function useDags() {
  return useQuery({ queryKey: keys.dags, queryFn: () => ok(api.GET('/api/v1/dags')) });
}

export function useDag(dag: string) {
  return useQuery({
    queryKey: keys.dag(dag),
    queryFn: () => ok(api.GET('/api/v1/dags/{dag_id}', { params: { path: { dag_id: dag } } })),
  });
}

export function useSource(dag: string) {
  return useQuery({
    queryKey: keys.source(dag),
    queryFn: () => ok(api.GET('/api/v1/dags/{dag_id}/source', { params: { path: { dag_id: dag } } })),
  });
}

export function useGrid(dag: string) {
  return useInfiniteQuery({
    queryKey: keys.grid(dag),
    initialPageParam: null as string | null,
    queryFn: ({ pageParam }) =>
      ok(
        api.GET('/api/v1/dags/{dag_id}/grid', {
          params: {
            path: { dag_id: dag },
            query: pageParam ? { limit: GRID_PAGE, cursor: pageParam } : { limit: GRID_PAGE },
          },
        }),
      ),
    getNextPageParam: (last) => last.next_cursor,
  });
}

export function useRuns(dag: string) {
  return useInfiniteQuery({
    queryKey: keys.runs(dag),
    initialPageParam: null as string | null,
    queryFn: async ({ pageParam }) =>
      (await ok(
        api.GET('/api/v1/dags/{dag_id}/runs', {
          params: {
            path: { dag_id: dag },
            query: pageParam ? { limit: 50, cursor: pageParam } : { limit: 50 },
          },
        }),
      )) as RunPage,
    getNextPageParam: (last) => last.next_cursor,
  });
}

export function useRun(dag: string, run: string | undefined) {
  return useQuery({
    queryKey: keys.run(dag, run ?? ''),
    enabled: !!run,
    queryFn: () =>
      ok(api.GET('/api/v1/dags/{dag_id}/runs/{run_id}', { params: { path: { dag_id: dag, run_id: run! } } })),
  });
}

export function useTaskInstances(dag: string, run: string | undefined) {
  return useQuery({
    queryKey: keys.tis(dag, run ?? ''),
    enabled: !!run,
    queryFn: () =>
      ok(
        api.GET('/api/v1/dags/{dag_id}/runs/{run_id}/tasks', {
          params: { path: { dag_id: dag, run_id: run! } },
        }),
      ),
  });
}

export function useTaskInstance(dag: string, run: string, task: string) {
  return useQuery({
    queryKey: keys.ti(dag, run, task),
    queryFn: () =>
      ok(
        api.GET('/api/v1/dags/{dag_id}/runs/{run_id}/tasks/{task_id}', {
          params: { path: { dag_id: dag, run_id: run, task_id: task } },
        }),
      ),
  });
}

export function useTries(dag: string, run: string, task: string) {
  return useQuery({
    queryKey: keys.tries(dag, run, task),
    queryFn: () =>
      ok(
        api.GET('/api/v1/dags/{dag_id}/runs/{run_id}/tasks/{task_id}/tries', {
          params: { path: { dag_id: dag, run_id: run, task_id: task } },
        }),
      ),
  });
}

export function useClusters() {
  return useQuery({
    queryKey: keys.clusters,
    queryFn: () => ok(api.GET('/api/v1/clusters', { params: { query: { include_deleted: true } } })),
  });
}

export function useConnections(enabled: boolean) {
  return useQuery({
    queryKey: keys.connections,
    enabled,
    queryFn: () => ok(api.GET('/api/v1/connections')),
  });
}

export function useSparkApp(app: string | null | undefined) {
  return useQuery({
    queryKey: keys.spark(app ?? ''),
    enabled: !!app,
    queryFn: () =>
      ok(api.GET('/api/v1/spark/applications/{app_id}', { params: { path: { app_id: app! } } })),
  });
}
