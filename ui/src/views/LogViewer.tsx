// A try's log: the last 64 KiB first, "load earlier" pages older bytes, and a live tail over SSE
// while the try runs. At most MAX_LINES lines / MAX_BYTES bytes are kept in the DOM.
import { useCallback, useEffect, useLayoutEffect, useReducer, useRef, useState } from 'react';
import { api, ApiError, apiUrl, ok, type LogChunk } from '../api/client';
import { ErrorBox } from './common';

const PAGE = 64 * 1024;
export const MAX_LINES = 5000;
export const MAX_BYTES = 1024 * 1024;
const enc = new TextEncoder();
const byteLen = (s: string) => enc.encode(s).length;

type Model = {
  lines: string[]; // the text between start and end split on '\n' (the last item is the open line)
  start: number;
  end: number;
  size: number;
  complete: boolean;
  tailTrimmed: boolean; // lines after `end` were dropped to make room for earlier ones
};

export function LogViewer({ dagId, runId, taskId, tryNumber, running }: { dagId: string; runId: string; taskId: string; tryNumber: number; running: boolean }) {
  const model = useRef<Model | null>(null);
  const [, rerender] = useReducer((n: number) => n + 1, 0);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [following, setFollowing] = useState(false);
  const pre = useRef<HTMLPreElement>(null);
  const stick = useRef(true);
  const es = useRef<EventSource | null>(null);
  const gen = useRef(0);
  const path = { dag_id: dagId, run_id: runId, task_id: taskId, try_number: tryNumber };

  const fetchRange = (offset: number, length: number) =>
    ok(api.GET('/api/v1/dags/{dag_id}/runs/{run_id}/tasks/{task_id}/logs/{try_number}', { params: { path, query: { offset, length } } })) as Promise<LogChunk>;

  const trimHead = (m: Model) => {
    while (m.lines.length > 1 && (m.lines.length > MAX_LINES || m.end - m.start > MAX_BYTES)) {
      m.start += byteLen(m.lines.shift()!) + 1;
    }
  };

  const append = (m: Model, text: string, next: number) => {
    const parts = text.split('\n');
    m.lines[m.lines.length - 1] += parts[0];
    for (let i = 1; i < parts.length; i++) m.lines.push(parts[i]);
    m.end = next;
    m.size = Math.max(m.size, next);
    trimHead(m);
  };

  const stopFollowing = () => {
    es.current?.close();
    es.current = null;
    setFollowing(false);
  };

  const follow = useCallback(() => {
    const m = model.current;
    if (!m || m.complete || m.tailTrimmed || es.current) return;
    const my = gen.current;
    const src = new EventSource(apiUrl(['dags', dagId, 'runs', runId, 'tasks', taskId, 'logs', tryNumber, 'stream'], { offset: m.end }), { withCredentials: true });
    es.current = src;
    setFollowing(true);
    src.addEventListener('log', (ev) => {
      const mm = model.current;
      if (!mm || my !== gen.current) return;
      const d = JSON.parse((ev as MessageEvent<string>).data) as { offset: number; next_offset: number; content: string };
      if (d.next_offset <= mm.end) return; // already shown
      if (d.offset !== mm.end) {
        // A resumed stream that overlaps: restart from where we are.
        src.close();
        es.current = null;
        follow();
        return;
      }
      append(mm, d.content, d.next_offset);
      rerender();
    });
    src.addEventListener('end', () => {
      const mm = model.current;
      if (mm && my === gen.current) mm.complete = true;
      stopFollowing();
      rerender();
    });
    src.onerror = () => {
      // Let the browser retry once the connection is gone; restart from our offset.
      if (src.readyState === EventSource.CLOSED || src.readyState === EventSource.CONNECTING) {
        src.close();
        if (es.current === src) es.current = null;
        setFollowing(false);
        window.setTimeout(() => {
          if (my === gen.current) follow();
        }, 2000);
      }
    };
  }, [dagId, runId, taskId, tryNumber]);

  const loadTail = useCallback(async () => {
    const my = ++gen.current;
    stopFollowing();
    setError(null);
    setBusy(true);
    try {
      const c = await fetchRange(-PAGE, PAGE);
      if (my !== gen.current) return;
      const m: Model = { lines: [''], start: c.offset, end: c.offset, size: c.size, complete: c.complete, tailTrimmed: false };
      append(m, c.content, c.next_offset);
      model.current = m;
      stick.current = true;
      rerender();
      follow();
    } catch (e) {
      if (my !== gen.current) return;
      model.current = null;
      setError(e instanceof ApiError && e.status === 404 ? new Error('This try has no log yet.') : e);
    } finally {
      if (my === gen.current) setBusy(false);
    }
  }, [dagId, runId, taskId, tryNumber, follow]);

  useEffect(() => {
    void loadTail();
    return () => {
      gen.current++;
      es.current?.close();
      es.current = null;
    };
  }, [loadTail]);

  // A try that had no log yet: look again when it starts running.
  useEffect(() => {
    if (running && !model.current && !busy) void loadTail();
    if (running && model.current && !model.current.complete && !es.current) follow();
  }, [running]);

  const loadEarlier = async () => {
    const m = model.current;
    if (!m || m.start <= 0) return;
    const my = gen.current;
    setBusy(true);
    setError(null);
    try {
      const from = Math.max(0, m.start - PAGE);
      const c = await fetchRange(from, m.start - from);
      if (my !== gen.current || model.current !== m) return;
      const el = pre.current;
      const before = el ? el.scrollHeight - el.scrollTop : 0;
      const parts = c.content.split('\n');
      m.lines[0] = parts[parts.length - 1] + m.lines[0];
      m.lines.unshift(...parts.slice(0, -1));
      m.start = c.offset;
      // Over the cap: drop the newest lines and stop following ("Jump to end" reloads the tail).
      while (m.lines.length > 1 && (m.lines.length > MAX_LINES || m.end - m.start > MAX_BYTES)) {
        m.end -= byteLen(m.lines.pop()!) + 1;
        m.tailTrimmed = true;
      }
      if (m.tailTrimmed) stopFollowing();
      stick.current = false;
      rerender();
      requestAnimationFrame(() => {
        if (el) el.scrollTop = el.scrollHeight - before;
      });
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  useLayoutEffect(() => {
    const el = pre.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  });

  const m = model.current;
  const text = m ? m.lines.join('\n') : '';
  return (
    <section className="log" aria-labelledby={`log-title-${taskId}`}>
      <div className="log-head">
        <h3 id={`log-title-${taskId}`}>Log of try {tryNumber}</h3>
        <span className="muted small" data-testid="log-status">
          {m ? `bytes ${m.start}–${m.end} of ${m.size}` : ''}
          {following ? ' · following live' : m?.complete ? ' · complete' : ''}
        </span>
        <span className="spacer" />
        {m && m.start > 0 && (
          <button type="button" onClick={loadEarlier} disabled={busy} data-testid="log-load-earlier">
            Load earlier
          </button>
        )}
        {m?.tailTrimmed && (
          <button type="button" onClick={() => void loadTail()} disabled={busy}>
            Jump to end
          </button>
        )}
        <a className="btn" href={apiUrl(['dags', dagId, 'runs', runId, 'tasks', taskId, 'logs', tryNumber], { offset: 0, length: 1048576 })} target="_blank" rel="noreferrer">
          Raw
        </a>
      </div>
      <ErrorBox error={error} />
      {m && (
        <pre
          ref={pre}
          className="log-text"
          tabIndex={0}
          aria-label={`Log of ${taskId}, try ${tryNumber}`}
          data-testid="log-text"
          onScroll={(e) => {
            const el = e.currentTarget;
            stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
          }}
        >
          {text || <span className="muted">(empty)</span>}
        </pre>
      )}
    </section>
  );
}
