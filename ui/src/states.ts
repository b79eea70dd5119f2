// State colours: each is paired with its name in text or aria-label (colour is never the only cue).
export const STATE_COLORS: Record<string, string> = {
  none: '#d8dee4',
  absent: 'transparent',
  scheduled: '#b9a3e3',
  queued: '#8c959f',
  running: '#2f81f7',
  success: '#16a34a',
  failed: '#dc2626',
  up_for_retry: '#eab308',
  upstream_failed: '#f97316',
  skipped: '#db2777',
  cancelled: '#57606a',
};

export function stateColor(state: string | null | undefined): string {
  return STATE_COLORS[state ?? 'none'] ?? '#d8dee4';
}

export const TASK_STATES = [
  'none', 'scheduled', 'queued', 'running', 'success', 'failed', 'up_for_retry', 'upstream_failed', 'skipped',
] as const;

export function isFinishedRun(state: string) {
  return state === 'success' || state === 'failed' || state === 'cancelled';
}

export function fmtTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, {
    year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
  });
}

export function fmtDuration(ms: number | null | undefined): string {
  if (ms == null || !Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function durationBetween(a: string | null | undefined, b: string | null | undefined): number | null {
  if (!a) return null;
  const start = Date.parse(a);
  const end = b ? Date.parse(b) : Date.now();
  return end - start;
}

export function fmtBytes(n: number | null | undefined): string {
  if (n == null) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i ? v.toFixed(1) : v} ${units[i]}`;
}
