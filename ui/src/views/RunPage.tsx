import { useQueryClient } from '@tanstack/react-query';
import { api, can, ok, type Me, type TaskInstance } from '../api/client';
import { keys, useRun, useTaskInstances } from '../queries';
import { links } from '../router';
import { durationBetween, fmtDuration, fmtTime, isFinishedRun } from '../states';
import { ErrorBox, Spinner, StateBadge, useConfirm } from './common';
import { TaskPanel } from './TaskPanel';

export function RunPage({ dagId, runId, taskId, me }: { dagId: string; runId: string; taskId?: string; me: Me }) {
  const qc = useQueryClient();
  const run = useRun(dagId, runId);
  const tis = useTaskInstances(dagId, runId);
  const { ask, dialog, setNotice } = useConfirm();
  const operator = can.operate(me.role);
  const path = { dag_id: dagId, run_id: runId };

  const refresh = () => {
    void qc.invalidateQueries({ queryKey: keys.run(dagId, runId) });
    void qc.invalidateQueries({ queryKey: keys.tis(dagId, runId) });
    void qc.invalidateQueries({ queryKey: ['ti', dagId, runId] });
    void qc.invalidateQueries({ queryKey: keys.grid(dagId) });
  };

  if (run.isPending) return <Spinner label="Loading run" />;
  if (run.isError) return <div className="page"><ErrorBox error={run.error} /></div>;
  const r = run.data;
  const finished = isFinishedRun(r.state);
  const hasFailures = tis.data?.tasks.some((t) => t.state === 'failed' || t.state === 'upstream_failed') ?? false;

  const taskActions = (t: TaskInstance) => {
    const tp = { ...path, task_id: t.task_id };
    return (
      <div className="row-actions">
        <button
          type="button"
          data-testid={`clear-${t.task_id}`}
          onClick={() =>
            ask({
              title: `Clear ${t.task_id}?`,
              body: <p>The task runs again in this run (a new try).</p>,
              confirmLabel: 'Clear',
              option: { label: 'Also clear its downstream tasks', initial: true },
              run: async (downstream) => {
                const res = await ok(api.POST('/api/v1/dags/{dag_id}/runs/{run_id}/tasks/{task_id}/clear', { params: { path: tp }, body: { downstream } }));
                setNotice(`Cleared ${res.cleared.join(', ') || 'nothing'}`);
                refresh();
              },
            })
          }
        >
          Clear
        </button>
        {(['success', 'failed'] as const).map((state) => (
          <button
            key={state}
            type="button"
            data-testid={`mark-${state}-${t.task_id}`}
            disabled={t.state === state}
            onClick={() =>
              ask({
                title: `Mark ${t.task_id} ${state}?`,
                body: <p>Its state is set without running it; downstream tasks react as if it had {state === 'success' ? 'succeeded' : 'failed'}.</p>,
                confirmLabel: `Mark ${state}`,
                danger: state === 'failed',
                run: async () => {
                  await ok(api.POST('/api/v1/dags/{dag_id}/runs/{run_id}/tasks/{task_id}/mark', { params: { path: tp }, body: { state } }));
                  setNotice(`Marked ${t.task_id} ${state}`);
                  refresh();
                },
              })
            }
          >
            Mark {state}
          </button>
        ))}
      </div>
    );
  };

  return (
    <div className="page">
      <p className="crumbs">
        <a href={links.dags()}>DAGs</a> / <a href={links.dag(dagId, 'grid', runId)}>{dagId}</a> / {runId}
      </p>
      <div className="title-row">
        <h1 className="run-title">Run <code>{runId}</code></h1>
        <StateBadge state={r.state} testid="run-state" />
        {r.cancel_requested && !finished && <span className="tag">cancel requested</span>}
        <span className="spacer" />
        <a className="btn" href={links.dag(dagId, 'graph', runId)}>Graph</a>
        <a className="btn" href={links.dag(dagId, 'gantt', runId)} data-testid="open-gantt">Gantt</a>
        {operator && !finished && (
          <button
            type="button"
            className="btn-danger"
            data-testid="cancel-run"
            disabled={r.cancel_requested}
            onClick={() =>
              ask({
                title: `Cancel run ${runId}?`,
                body: <p>Running tasks are stopped and nothing more starts in this run.</p>,
                confirmLabel: 'Cancel run',
                danger: true,
                run: async () => {
                  await ok(api.POST('/api/v1/dags/{dag_id}/runs/{run_id}/cancel', { params: { path } }));
                  setNotice('Cancel requested');
                  refresh();
                },
              })
            }
          >
            Cancel run
          </button>
        )}
        {operator && finished && r.state !== 'success' && (
          <button
            type="button"
            className="btn-primary"
            data-testid="repair-run"
            disabled={!hasFailures}
            title={hasFailures ? undefined : 'No failed task to repair'}
            onClick={() =>
              ask({
                title: `Repair run ${runId}?`,
                body: <p>Failed and upstream-failed tasks, and their downstream, run again in this run.</p>,
                confirmLabel: 'Repair run',
                run: async () => {
                  const res = await ok(api.POST('/api/v1/dags/{dag_id}/runs/{run_id}/repair', { params: { path } }));
                  setNotice(`Repairing: ${res.cleared.join(', ') || 'nothing to re-run'}`);
                  refresh();
                },
              })
            }
          >
            Repair run
          </button>
        )}
      </div>
      <dl className="facts">
        <div><dt>Type</dt><dd>{r.type}</dd></div>
        <div><dt>Logical date</dt><dd>{fmtTime(r.logical_date)}</dd></div>
        <div><dt>Started</dt><dd>{fmtTime(r.started_at)}</dd></div>
        <div><dt>Ended</dt><dd>{fmtTime(r.ended_at)}</dd></div>
        <div><dt>Duration</dt><dd>{fmtDuration(durationBetween(r.started_at, r.ended_at))}</dd></div>
        {r.note && <div><dt>Note</dt><dd>{r.note}</dd></div>}
        {r.conf && Object.keys(r.conf).length > 0 && (
          <div className="wide"><dt>Conf</dt><dd><code className="wrap">{JSON.stringify(r.conf)}</code></dd></div>
        )}
      </dl>
      {dialog}
      <div className={taskId ? 'run-split' : undefined}>
        <section aria-labelledby="tis-title">
          <h2 id="tis-title">Task instances</h2>
          {tis.isPending ? <Spinner label="Loading task instances" /> : tis.isError ? <ErrorBox error={tis.error} /> : (
            <div className="table-wrap">
              <table data-testid="ti-table">
                <thead>
                  <tr>
                    <th scope="col">Task</th><th scope="col">State</th><th scope="col">Try</th>
                    <th scope="col">Started</th><th scope="col">Duration</th>
                    {operator && <th scope="col">Actions</th>}
                  </tr>
                </thead>
                <tbody>
                  {tis.data.tasks.map((t) => (
                    <tr key={t.task_id} aria-current={t.task_id === taskId ? 'true' : undefined} data-testid={`ti-row-${t.task_id}`}>
                      <td><a href={links.task(dagId, runId, t.task_id)}>{t.task_id}</a> <span className="muted small">{t.type}</span></td>
                      <td><StateBadge state={t.state} testid={`ti-state-${t.task_id}`} /></td>
                      <td>{t.try_number}/{t.max_tries}</td>
                      <td>{fmtTime(t.started_at)}</td>
                      <td>{fmtDuration(durationBetween(t.started_at, t.ended_at))}</td>
                      {operator && <td>{taskActions(t)}</td>}
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </section>
        {taskId && <TaskPanel key={taskId} dagId={dagId} runId={runId} taskId={taskId} />}
      </div>
    </div>
  );
}
