// Runs x tasks on a <canvas>: tasks are rows, runs are columns (newest on the left). Only the
// visible cells are drawn; hit-testing is arithmetic; hover and keyboard focus are drawn on an
// overlay canvas without React renders. Keyboard: arrows/Home/End/PageUp/PageDown move, Enter opens.
import { useCallback, useEffect, useLayoutEffect, useRef } from 'react';
import type { GridRun } from '../api/client';
import { stateColor } from '../states';

export const CELL = 18; // px per cell, gap included
const GAP = 3;
const HEADER_H = 96;

type Props = {
  tasks: string[];
  runs: GridRun[];
  legend: Record<string, string>;
  selectedRun?: string;
  onOpenCell: (run: GridRun, task: string) => void;
  onOpenRun: (run: GridRun) => void;
  onNearEnd: () => void;
};

type Hit = { row: number; col: number } | { header: number } | null;

export function GridCanvas(props: Props) {
  const scroller = useRef<HTMLDivElement>(null);
  const base = useRef<HTMLCanvasElement>(null);
  const overlay = useRef<HTMLCanvasElement>(null);
  const tip = useRef<HTMLDivElement>(null);
  const live = useRef<HTMLParagraphElement>(null);
  const latest = useRef(props);
  latest.current = props;
  const view = useRef({ w: 0, h: 0, dpr: 1, labelW: 160 });
  const hover = useRef<Hit>(null);
  const focus = useRef({ row: 0, col: 0, active: false });
  const frame = useRef(0);

  const { tasks, runs } = props;
  const totalW = () => view.current.labelW + runs.length * CELL;
  const totalH = HEADER_H + tasks.length * CELL;

  const stateOf = (run: GridRun, col: number) => latest.current.legend[run.states[col] ?? '.'] ?? 'absent';

  const draw = useCallback(() => {
    frame.current = 0;
    const c = base.current;
    const el = scroller.current;
    if (!c || !el) return;
    const { w, h, dpr, labelW } = view.current;
    const { tasks, runs, legend, selectedRun } = latest.current;
    const ctx = c.getContext('2d');
    if (!ctx) return;
    const colors: Record<string, string> = {};
    for (const [ch, name] of Object.entries(legend)) colors[ch] = stateColor(name);
    const sx = el.scrollLeft;
    const sy = el.scrollTop;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const css = getComputedStyle(el);
    const bg = css.getPropertyValue('--bg').trim() || '#fff';
    const fg = css.getPropertyValue('--fg').trim() || '#111';
    const muted = css.getPropertyValue('--muted').trim() || '#666';
    ctx.fillStyle = bg;
    ctx.fillRect(0, 0, w, h);

    const c0 = Math.max(0, Math.floor(sx / CELL));
    const c1 = Math.min(runs.length, Math.ceil((sx + w - labelW) / CELL) + 1);
    const r0 = Math.max(0, Math.floor(sy / CELL));
    const r1 = Math.min(tasks.length, Math.ceil((sy + h - HEADER_H) / CELL) + 1);

    // Selected run column.
    for (let ci = c0; ci < c1; ci++) {
      if (runs[ci].run_id === selectedRun) {
        ctx.fillStyle = 'rgba(47,129,247,0.15)';
        ctx.fillRect(labelW + ci * CELL - sx - 1, 0, CELL, Math.min(h, HEADER_H + tasks.length * CELL - sy));
      }
    }
    // Cells.
    const size = CELL - GAP;
    for (let ci = c0; ci < c1; ci++) {
      const states = runs[ci].states;
      const x = labelW + ci * CELL - sx;
      for (let ri = r0; ri < r1; ri++) {
        const ch = states[ri] ?? '.';
        const color = colors[ch];
        if (!color || color === 'transparent') continue;
        ctx.fillStyle = color;
        ctx.fillRect(x, HEADER_H + ri * CELL - sy, size, size);
      }
    }
    // Header: run state bar and logical date, over the cells.
    ctx.fillStyle = bg;
    ctx.fillRect(0, 0, w, HEADER_H);
    ctx.font = '10px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    for (let ci = c0; ci < c1; ci++) {
      const run = runs[ci];
      const x = labelW + ci * CELL - sx;
      ctx.fillStyle = stateColor(run.state);
      ctx.fillRect(x, HEADER_H - 10, size, 6);
      ctx.save();
      ctx.translate(x + size / 2, HEADER_H - 14);
      ctx.rotate(-Math.PI / 2);
      ctx.fillStyle = run.run_id === selectedRun ? fg : muted;
      ctx.fillText(shortDate(run.logical_date), 0, 0);
      ctx.restore();
    }
    // Task labels, over everything.
    ctx.fillStyle = bg;
    ctx.fillRect(0, 0, labelW, h);
    ctx.font = '12px system-ui, sans-serif';
    for (let ri = r0; ri < r1; ri++) {
      const y = HEADER_H + ri * CELL - sy;
      if (y < HEADER_H - CELL / 2) continue;
      ctx.fillStyle = fg;
      ctx.fillText(ellipsize(ctx, tasks[ri], labelW - 12), 4, y + size / 2);
    }
    ctx.fillStyle = muted;
    ctx.font = '11px system-ui, sans-serif';
    ctx.fillText('task \\ run', 4, HEADER_H - 8);
    drawOverlay();
    if (c1 >= runs.length - 5) latest.current.onNearEnd();
  }, []);

  const schedule = useCallback(() => {
    if (!frame.current) frame.current = requestAnimationFrame(draw);
  }, [draw]);

  const drawOverlay = () => {
    const c = overlay.current;
    const el = scroller.current;
    if (!c || !el) return;
    const ctx = c.getContext('2d');
    if (!ctx) return;
    const { w, h, dpr, labelW } = view.current;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    const sx = el.scrollLeft;
    const sy = el.scrollTop;
    const cellRect = (row: number, col: number) => [labelW + col * CELL - sx, HEADER_H + row * CELL - sy] as const;
    const hv = hover.current;
    if (hv && 'row' in hv) {
      const [x, y] = cellRect(hv.row, hv.col);
      ctx.fillStyle = 'rgba(127,127,127,0.12)';
      ctx.fillRect(labelW, y - 1, w - labelW, CELL);
      ctx.fillRect(x - 1, HEADER_H, CELL, h - HEADER_H);
      ctx.strokeStyle = '#000';
      ctx.lineWidth = 2;
      ctx.strokeRect(x - 1, y - 1, CELL - GAP + 2, CELL - GAP + 2);
    } else if (hv && 'header' in hv) {
      ctx.fillStyle = 'rgba(127,127,127,0.2)';
      ctx.fillRect(labelW + hv.header * CELL - sx - 1, 0, CELL, h);
    }
    const f = focus.current;
    if (f.active && latest.current.runs.length && latest.current.tasks.length) {
      const [x, y] = cellRect(f.row, f.col);
      ctx.strokeStyle = '#2f81f7';
      ctx.lineWidth = 3;
      ctx.strokeRect(x - 2, y - 2, CELL - GAP + 4, CELL - GAP + 4);
    }
  };

  const hitTest = (clientX: number, clientY: number): Hit => {
    const el = scroller.current;
    if (!el) return null;
    const rect = el.getBoundingClientRect();
    const x = clientX - rect.left;
    const y = clientY - rect.top;
    const { labelW } = view.current;
    if (x < labelW) return null;
    const col = Math.floor((x - labelW + el.scrollLeft) / CELL);
    if (col < 0 || col >= latest.current.runs.length) return null;
    if (y < HEADER_H) return { header: col };
    const row = Math.floor((y - HEADER_H + el.scrollTop) / CELL);
    if (row < 0 || row >= latest.current.tasks.length) return null;
    return { row, col };
  };

  const describe = (row: number, col: number) => {
    const { runs, tasks } = latest.current;
    const run = runs[col];
    if (!run) return '';
    return `${tasks[row]} · ${run.run_id}: ${stateOf(run, row).replace(/_/g, ' ')}`;
  };

  const showTip = (hit: Hit, clientX: number, clientY: number) => {
    const t = tip.current;
    const el = scroller.current;
    if (!t || !el) return;
    if (!hit) {
      t.hidden = true;
      return;
    }
    const run = latest.current.runs['row' in hit ? hit.col : hit.header];
    t.textContent = 'row' in hit ? describe(hit.row, hit.col) : `${run.run_id}: ${run.state}`;
    t.hidden = false;
    const rect = el.getBoundingClientRect();
    const left = Math.min(clientX - rect.left + 12, rect.width - t.offsetWidth - 4);
    t.style.transform = `translate(${Math.max(0, left)}px, ${clientY - rect.top + 14}px)`;
  };

  // Size the canvases to the visible box.
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const resize = () => {
      const dpr = window.devicePixelRatio || 1;
      const w = el.clientWidth;
      const h = el.clientHeight;
      const labelW = w < 520 ? 100 : 170;
      view.current = { w, h, dpr, labelW };
      for (const c of [base.current, overlay.current]) {
        if (!c) continue;
        c.width = Math.round(w * dpr);
        c.height = Math.round(h * dpr);
        c.style.width = `${w}px`;
        c.style.height = `${h}px`;
      }
      const spacer = el.firstElementChild as HTMLElement | null;
      if (spacer) spacer.style.width = `${labelW + latest.current.runs.length * CELL}px`;
      base.current?.setAttribute('data-label-width', String(labelW));
      draw();
    };
    const ro = new ResizeObserver(resize);
    ro.observe(el);
    resize();
    return () => ro.disconnect();
  }, [draw]);

  // Redraw when the data changes (at most once per frame).
  useEffect(() => {
    schedule();
  }, [props.runs, props.tasks, props.legend, props.selectedRun, schedule]);

  useEffect(() => () => cancelAnimationFrame(frame.current), []);

  const ensureVisible = (row: number, col: number) => {
    const el = scroller.current;
    if (!el) return;
    const { w, h, labelW } = view.current;
    const x = col * CELL;
    const y = row * CELL;
    if (x < el.scrollLeft) el.scrollLeft = x;
    else if (x + CELL > el.scrollLeft + w - labelW) el.scrollLeft = x + CELL - (w - labelW);
    if (y < el.scrollTop) el.scrollTop = y;
    else if (y + CELL > el.scrollTop + h - HEADER_H) el.scrollTop = y + CELL - (h - HEADER_H);
  };

  const onKey = (e: React.KeyboardEvent) => {
    const { runs, tasks } = latest.current;
    if (!runs.length || !tasks.length) return;
    const f = focus.current;
    let { row, col } = f;
    const page = Math.max(1, Math.floor((view.current.w - view.current.labelW) / CELL) - 1);
    switch (e.key) {
      case 'ArrowUp': row--; break;
      case 'ArrowDown': row++; break;
      case 'ArrowLeft': col--; break;
      case 'ArrowRight': col++; break;
      case 'Home': col = 0; break;
      case 'End': col = runs.length - 1; break;
      case 'PageUp': col -= page; break;
      case 'PageDown': col += page; break;
      case 'Enter':
      case ' ':
        e.preventDefault();
        latest.current.onOpenCell(runs[col], tasks[row]);
        return;
      default:
        return;
    }
    e.preventDefault();
    f.row = Math.max(0, Math.min(tasks.length - 1, row));
    f.col = Math.max(0, Math.min(runs.length - 1, col));
    f.active = true;
    ensureVisible(f.row, f.col);
    if (live.current) live.current.textContent = describe(f.row, f.col);
    drawOverlay();
  };

  return (
    <div className="grid-box">
      <div
        className="grid-scroll"
        ref={scroller}
        style={{ height: `min(${totalH + 16}px, max(60vh, 260px))` }}
        onScroll={() => {
          hover.current = null;
          if (tip.current) tip.current.hidden = true;
          schedule();
        }}
      >
        <div className="grid-spacer" style={{ width: totalW(), height: totalH }}>
          <div className="grid-sticky">
            <canvas
              ref={base}
              data-testid="grid-canvas"
              data-cell={CELL}
              data-header={HEADER_H}
              data-runs={runs.length}
              data-tasks={tasks.length}
              tabIndex={0}
              role="img"
              aria-label={`Grid of ${runs.length} runs by ${tasks.length} tasks. Use the arrow keys to move between cells and Enter to open a task instance.`}
              onFocus={() => {
                focus.current.active = true;
                if (live.current) live.current.textContent = describe(focus.current.row, focus.current.col);
                drawOverlay();
              }}
              onBlur={() => {
                focus.current.active = false;
                drawOverlay();
              }}
              onKeyDown={onKey}
              onMouseMove={(e) => {
                const hit = hitTest(e.clientX, e.clientY);
                const prev = hover.current;
                hover.current = hit;
                if (JSON.stringify(prev) !== JSON.stringify(hit)) drawOverlay();
                showTip(hit, e.clientX, e.clientY);
                (e.currentTarget as HTMLCanvasElement).style.cursor = hit ? 'pointer' : 'default';
              }}
              onMouseLeave={() => {
                hover.current = null;
                showTip(null, 0, 0);
                drawOverlay();
              }}
              onClick={(e) => {
                const hit = hitTest(e.clientX, e.clientY);
                if (!hit) return;
                const { runs, tasks } = latest.current;
                if ('row' in hit) latest.current.onOpenCell(runs[hit.col], tasks[hit.row]);
                else latest.current.onOpenRun(runs[hit.header]);
              }}
            />
            <canvas ref={overlay} className="grid-overlay" aria-hidden="true" />
          </div>
        </div>
      </div>
      <div className="grid-tip" ref={tip} hidden role="tooltip" />
      <p className="sr-only" aria-live="polite" ref={live} data-testid="grid-focus" />
    </div>
  );
}

function shortDate(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso.slice(5, 16);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

function ellipsize(ctx: CanvasRenderingContext2D, text: string, max: number): string {
  if (ctx.measureText(text).width <= max) return text;
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (ctx.measureText(text.slice(0, mid) + '…').width <= max) lo = mid;
    else hi = mid - 1;
  }
  return text.slice(0, lo) + '…';
}
