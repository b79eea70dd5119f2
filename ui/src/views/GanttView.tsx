// A run's task instances on a time axis (SVG), from their started_at/ended_at.
import { useEffect, useLayoutEffect, useRef, useState } from 'react';
import { useTaskInstances } from '../queries';
import { links } from '../router';
import { fmtDuration, stateColor } from '../states';
import { ErrorBox, Spinner } from './common';

const ROW = 26;
const LABEL = 150;
const AXIS = 24;

export function GanttView({ dagId, runId }: { dagId: string; runId: string }) {
  const tis = useTaskInstances(dagId, runId);
  const running = tis.data?.tasks.some((t) => t.started_at && !t.ended_at) ?? false;
  const hasStarted = tis.data?.tasks.some((t) => t.started_at) ?? false;
  const [now, setNow] = useState(() => Date.now());
  // Drawn at the box's width in CSS pixels, so text keeps its size.
  const box = useRef<HTMLDivElement>(null);
  const [boxWidth, setBoxWidth] = useState(760);
  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setBoxWidth(Math.max(520, el.clientWidth - 16)));
    ro.observe(el);
    return () => ro.disconnect();
  }, [hasStarted]);
  // Running bars grow with the clock (a local redraw, not a request).
  useEffect(() => {
    if (!running) return;
    const id = window.setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(id);
  }, [running]);

  if (tis.isPending) return <Spinner label="Loading task instances" />;
  if (tis.isError) return <ErrorBox error={tis.error} />;
  const tasks = tis.data.tasks;
  const started = tasks.filter((t) => t.started_at);
  if (!started.length) return <p data-testid="gantt-empty">No task of this run has started yet.</p>;
  const t0 = Math.min(...started.map((t) => Date.parse(t.started_at!)));
  const t1 = Math.max(t0 + 1000, ...started.map((t) => (t.ended_at ? Date.parse(t.ended_at) : now)));
  const width = boxWidth;
  const plot = width - LABEL - 10;
  const xOf = (ms: number) => LABEL + ((ms - t0) / (t1 - t0)) * plot;
  const height = AXIS + tasks.length * ROW + 4;
  const ticks = 5;
  return (
    <div className="gantt-wrap" ref={box}>
      <svg className="gantt" viewBox={`0 0 ${width} ${height}`} width={width} height={height} role="group" aria-label={`Gantt chart of run ${runId}`} data-testid="gantt">
        {Array.from({ length: ticks + 1 }, (_, i) => {
          const x = LABEL + (plot * i) / ticks;
          return (
            <g key={i}>
              <line x1={x} x2={x} y1={AXIS - 4} y2={height} className="tick" />
              <text x={x} y={12} textAnchor={i === 0 ? 'start' : i === ticks ? 'end' : 'middle'} className="tick-label">
                +{fmtDuration(((t1 - t0) * i) / ticks)}
              </text>
            </g>
          );
        })}
        {tasks.map((t, i) => {
          const y = AXIS + i * ROW;
          const s = t.started_at ? Date.parse(t.started_at) : null;
          const e = t.ended_at ? Date.parse(t.ended_at) : now;
          const label = `${t.task_id}: ${t.state.replace(/_/g, ' ')}${s !== null ? `, ${fmtDuration(e - s)}` : ', not started'}`;
          return (
            <a key={t.task_id} href={links.task(dagId, runId, t.task_id)} aria-label={label} data-testid={`gantt-row-${t.task_id}`}>
              <title>{label}</title>
              <text x={4} y={y + ROW / 2 + 4} className="gantt-label">{t.task_id.length > 22 ? t.task_id.slice(0, 21) + '…' : t.task_id}</text>
              {s !== null && (
                <rect x={xOf(s)} y={y + 4} width={Math.max(2, xOf(e) - xOf(s))} height={ROW - 8} rx={3} fill={stateColor(t.state)} />
              )}
            </a>
          );
        })}
      </svg>
    </div>
  );
}
