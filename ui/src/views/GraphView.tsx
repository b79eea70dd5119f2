// The DAG laid out by dagre, drawn as SVG; nodes take the selected run's task states (live: the
// task-instance query is patched by the event stream).
import { useMemo } from 'react';
import { Graph, layout } from '@dagrejs/dagre';
import type { Dag } from '../api/client';
import { useTaskInstances } from '../queries';
import { links, navigate } from '../router';
import { stateColor } from '../states';

const NODE_H = 40;

export function GraphView({ dag, runId }: { dag: Dag; runId?: string }) {
  const tis = useTaskInstances(dag.dag_id, runId);
  const states = useMemo(() => {
    const m = new Map<string, string>();
    for (const t of tis.data?.tasks ?? []) m.set(t.task_id, t.state);
    return m;
  }, [tis.data]);

  const laid = useMemo(() => {
    const g = new Graph();
    g.setGraph({ rankdir: 'LR', nodesep: 18, ranksep: 48, marginx: 8, marginy: 8 });
    g.setDefaultEdgeLabel(() => ({}));
    for (const t of dag.tasks) {
      // Wide enough for the id and for "type · upstream failed", the longest state.
      const text = Math.max(t.task_id.length * 7.8, (t.type.length + 18) * 6.3);
      g.setNode(t.task_id, { width: Math.min(280, Math.max(100, text + 28)), height: NODE_H });
    }
    for (const t of dag.tasks) for (const u of t.upstream) if (g.hasNode(u)) g.setEdge(u, t.task_id);
    layout(g);
    const nodes = dag.tasks.map((t) => {
      const n = g.node(t.task_id);
      return { id: t.task_id, type: t.type, x: n.x, y: n.y, w: n.width, h: n.height };
    });
    const edges = g.edges().map((e) => ({ key: `${e.v}->${e.w}`, points: g.edge(e).points ?? [] }));
    const gl = g.graph();
    return { nodes, edges, width: gl.width ?? 100, height: gl.height ?? 100 };
  }, [dag.tasks]);

  return (
    <div className="graph-wrap">
      <svg
        className="graph"
        viewBox={`0 0 ${laid.width} ${laid.height}`}
        width={laid.width}
        height={laid.height}
        role="group"
        aria-label={`Graph of ${dag.dag_id}${runId ? `, states of run ${runId}` : ''}`}
        data-testid="graph"
      >
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M0,0 L10,5 L0,10 z" className="edge-head" />
          </marker>
        </defs>
        {laid.edges.map((e) => (
          <path
            key={e.key}
            className="edge"
            markerEnd="url(#arrow)"
            d={e.points.map((p: { x: number; y: number }, i: number) => `${i ? 'L' : 'M'}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(' ')}
          />
        ))}
        {laid.nodes.map((n) => {
          const state = states.get(n.id) ?? 'none';
          const open = () => runId && navigate(links.task(dag.dag_id, runId, n.id));
          return (
            <g
              key={n.id}
              transform={`translate(${n.x - n.w / 2},${n.y - n.h / 2})`}
              className="node"
              data-testid={`graph-node-${n.id}`}
              data-state={state}
              tabIndex={runId ? 0 : undefined}
              role={runId ? 'link' : undefined}
              aria-label={`${n.id} (${n.type}): ${state.replace(/_/g, ' ')}`}
              onClick={open}
              onKeyDown={(e) => {
                if (e.key === 'Enter' || e.key === ' ') {
                  e.preventDefault();
                  open();
                }
              }}
            >
              <rect width={n.w} height={n.h} rx={6} className="node-box" />
              <rect width={8} height={n.h} rx={3} fill={stateColor(state)} />
              <text x={16} y={16} className="node-id">{n.id}</text>
              <text x={16} y={31} className="node-sub">{n.type} · {state.replace(/_/g, ' ')}</text>
            </g>
          );
        })}
      </svg>
    </div>
  );
}
