import { useMemo } from 'react';
import { can, type Me } from '../api/client';
import type { Grid } from '../api/client';
import { useDag, useGrid, useRuns, useSource } from '../queries';
import { links, navigate, useRoute } from '../router';
import { durationBetween, fmtDuration, fmtTime } from '../states';
import { ErrorBox, Spinner, StateBadge, Tabs } from './common';
import { GridCanvas } from './GridCanvas';
import { GraphView } from './GraphView';
import { GanttView } from './GanttView';

const TABS: [string, string][] = [
  ['grid', 'Grid'],
  ['graph', 'Graph'],
  ['gantt', 'Gantt'],
  ['runs', 'Runs'],
  ['source', 'Source'],
];

export function DagPage({ dagId, tab, me }: { dagId: string; tab: string; me: Me }) {
  const route = useRoute();
  const dag = useDag(dagId);
  const grid = useGrid(dagId);
  const runs = useMemo(() => flatRuns(grid.data), [grid.data]);
  const selected = route.query.get('run') || runs[0]?.run_id;

  if (dag.isPending) return <Spinner label="Loading DAG" />;
  if (dag.isError) return <div className="page"><ErrorBox error={dag.error} /></div>;
  const d = dag.data;
  return (
    <div className="page">
      <p className="crumbs"><a href={links.dags()}>DAGs</a> / {dagId}</p>
      <div className="title-row">
        <h1>{dagId}</h1>
        {d.paused && <span className="tag paused">paused</span>}
        <span className="spacer" />
        {can.operate(me.role) && (
          <a className="btn btn-primary" href={links.trigger(dagId)} data-testid="trigger-button">Trigger</a>
        )}
      </div>
      {d.description && <p className="muted">{d.description}</p>}
      <p className="small muted">
        Schedule <code>{d.schedule ?? 'manual'}</code> · {d.tasks.length} tasks · <code>{d.file}</code>
      </p>
      <Tabs tabs={TABS} current={tab} hrefOf={(t) => links.dag(dagId, t, route.query.get('run') ?? undefined)} />
      <section className="tab-panel" aria-label={TABS.find(([t]) => t === tab)?.[1] ?? tab}>
        {tab === 'grid' && (
          grid.isPending ? <Spinner label="Loading grid" /> : grid.isError ? <ErrorBox error={grid.error} /> : (
            <>
              {runs.length === 0 ? (
                <p>No runs yet.</p>
              ) : (
                <GridCanvas
                  tasks={grid.data.pages[0].tasks}
                  runs={runs}
                  legend={grid.data.pages[0].legend}
                  selectedRun={route.query.get('run') ?? undefined}
                  onOpenCell={(run, task) => navigate(links.task(dagId, run.run_id, task))}
                  onOpenRun={(run) => navigate(links.run(dagId, run.run_id))}
                  onNearEnd={() => {
                    if (grid.hasNextPage && !grid.isFetchingNextPage) void grid.fetchNextPage();
                  }}
                />
              )}
              <Legend legend={grid.data.pages[0].legend} />
              {grid.isFetchingNextPage && <Spinner label="Loading older runs" />}
            </>
          )
        )}
        {(tab === 'graph' || tab === 'gantt') && (
          <>
            <RunPicker dagId={dagId} tab={tab} runs={runs} selected={selected} />
            {tab === 'graph' ? <GraphView dag={d} runId={selected} /> : selected ? <GanttView dagId={dagId} runId={selected} /> : <p>No runs yet.</p>}
          </>
        )}
        {tab === 'runs' && <RunsList dagId={dagId} />}
        {tab === 'source' && <Source dagId={dagId} />}
      </section>
    </div>
  );
}

export function flatRuns(g: { pages: Grid[] } | undefined) {
  if (!g) return [];
  const seen = new Set<string>();
  const out = [];
  for (const p of g.pages) {
    for (const r of p.runs) {
      if (seen.has(r.run_id)) continue;
      seen.add(r.run_id);
      out.push(r);
    }
  }
  return out;
}

function Legend({ legend }: { legend: Record<string, string> }) {
  return (
    <ul className="legend" aria-label="Legend">
      {Object.values(legend)
        .filter((s) => s !== 'absent')
        .map((s) => (
          <li key={s}><StateBadge state={s} /></li>
        ))}
    </ul>
  );
}

function RunPicker({ dagId, tab, runs, selected }: { dagId: string; tab: string; runs: { run_id: string; state: string }[]; selected?: string }) {
  if (!runs.length) return null;
  return (
    <div className="run-picker">
      <label htmlFor="run-picker">Run</label>
      <select id="run-picker" value={selected} onChange={(e) => navigate(links.dag(dagId, tab, e.target.value))} data-testid="run-picker">
        {!runs.some((r) => r.run_id === selected) && selected && <option value={selected}>{selected}</option>}
        {runs.slice(0, 200).map((r) => (
          <option key={r.run_id} value={r.run_id}>{r.run_id} ({r.state})</option>
        ))}
      </select>
      {selected && <a href={links.run(dagId, selected)}>Open run</a>}
    </div>
  );
}

function RunsList({ dagId }: { dagId: string }) {
  const runs = useRuns(dagId);
  if (runs.isPending) return <Spinner label="Loading runs" />;
  if (runs.isError) return <ErrorBox error={runs.error} />;
  const list = runs.data.pages.flatMap((p) => p.runs);
  if (!list.length) return <p>No runs yet.</p>;
  return (
    <>
      <div className="table-wrap">
        <table data-testid="runs-table">
          <thead>
            <tr>
              <th scope="col">Run</th><th scope="col">State</th><th scope="col">Type</th><th scope="col">Logical date</th>
              <th scope="col">Started</th><th scope="col">Duration</th>
            </tr>
          </thead>
          <tbody>
            {list.map((r) => (
              <tr key={r.run_id}>
                <td><a href={links.run(dagId, r.run_id)}>{r.run_id}</a></td>
                <td><StateBadge state={r.state} /></td>
                <td>{r.type}</td>
                <td>{fmtTime(r.logical_date)}</td>
                <td>{fmtTime(r.started_at)}</td>
                <td>{fmtDuration(durationBetween(r.started_at, r.ended_at))}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {runs.hasNextPage && (
        <button type="button" onClick={() => void runs.fetchNextPage()} disabled={runs.isFetchingNextPage}>
          {runs.isFetchingNextPage ? 'Loading…' : 'Load older runs'}
        </button>
      )}
    </>
  );
}

function Source({ dagId }: { dagId: string }) {
  const src = useSource(dagId);
  if (src.isPending) return <Spinner label="Loading source" />;
  if (src.isError) return <ErrorBox error={src.error} />;
  const lines = src.data.source.split('\n');
  return (
    <figure className="source">
      <figcaption><code>{src.data.file}</code></figcaption>
      <pre data-testid="dag-source" tabIndex={0} aria-label={`Source of ${src.data.file}`}>
        {lines.map((l, i) => (
          <span key={i} className="src-line"><span className="ln" aria-hidden="true">{i + 1}</span>{l}{'\n'}</span>
        ))}
      </pre>
    </figure>
  );
}

