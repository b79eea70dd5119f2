import { useTaskInstance, useTries } from '../queries';
import { links, navigate, useRoute } from '../router';
import { durationBetween, fmtDuration, fmtTime } from '../states';
import { ErrorBox, Spinner, StateBadge } from './common';
import { LogViewer } from './LogViewer';
import { SparkPanel } from './SparkPanel';

export function TaskPanel({ dagId, runId, taskId }: { dagId: string; runId: string; taskId: string }) {
  const route = useRoute();
  const ti = useTaskInstance(dagId, runId, taskId);
  const tries = useTries(dagId, runId, taskId);
  if (ti.isPending) return <Spinner label="Loading task instance" />;
  if (ti.isError) return <ErrorBox error={ti.error} />;
  const t = ti.data;
  const maxTry = Math.max(t.try_number, 0);
  const chosen = Number(route.query.get('try')) || maxTry;
  const running = t.state === 'running' || t.state === 'queued';
  return (
    <section className="task-panel" aria-labelledby="task-title" data-testid="task-panel">
      <div className="title-row">
        <h2 id="task-title">{t.task_id}</h2>
        <StateBadge state={t.state} testid="task-state" />
        <span className="spacer" />
        <a className="btn" href={links.run(dagId, runId)} aria-label="Close task panel">Close</a>
      </div>
      <dl className="facts">
        <div><dt>Type</dt><dd>{t.type ?? '—'}</dd></div>
        <div><dt>Try</dt><dd>{t.try_number} of {t.max_tries}</dd></div>
        <div><dt>Started</dt><dd>{fmtTime(t.started_at)}</dd></div>
        <div><dt>Duration</dt><dd>{fmtDuration(durationBetween(t.started_at, t.ended_at))}</dd></div>
        <div><dt>Exit code</dt><dd>{t.exit_code ?? '—'}</dd></div>
        {t.next_try_at && <div><dt>Next try</dt><dd>{fmtTime(t.next_try_at)}</dd></div>}
        {t.reason && <div className="wide"><dt>Reason</dt><dd>{t.reason}</dd></div>}
      </dl>
      {Object.keys(t.outputs ?? {}).length > 0 && (
        <>
          <h3>Outputs</h3>
          <table className="kv" data-testid="task-outputs">
            <tbody>
              {Object.entries(t.outputs).map(([k, v]) => (
                <tr key={k}><th scope="row">{k}</th><td><code className="wrap">{typeof v === 'string' ? v : JSON.stringify(v)}</code></td></tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      {t.type === 'spark_submit' && t.spark_app_id && <SparkPanel appId={t.spark_app_id} />}
      <details className="tries">
        <summary>State changes ({tries.data?.events.length ?? '…'})</summary>
        {tries.isError ? <ErrorBox error={tries.error} /> : (
          <div className="table-wrap">
            <table>
              <thead><tr><th scope="col">Try</th><th scope="col">From</th><th scope="col">To</th><th scope="col">Reason</th><th scope="col">At</th></tr></thead>
              <tbody>
                {(tries.data?.events ?? []).map((e, i) => (
                  <tr key={i}><td>{e.try_number}</td><td>{e.from_state}</td><td>{e.to_state}</td><td>{e.reason}</td><td>{fmtTime(e.at)}</td></tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </details>
      {maxTry > 0 ? (
        <>
          {maxTry > 1 && (
            <div className="run-picker">
              <label htmlFor="try-picker">Try</label>
              <select id="try-picker" value={chosen} onChange={(e) => navigate(links.task(dagId, runId, taskId, Number(e.target.value)))}>
                {Array.from({ length: maxTry }, (_, i) => maxTry - i).map((n) => (
                  <option key={n} value={n}>Try {n}</option>
                ))}
              </select>
            </div>
          )}
          <LogViewer key={chosen} dagId={dagId} runId={runId} taskId={taskId} tryNumber={chosen} running={running && chosen === maxTry} />
        </>
      ) : (
        <p className="muted">Not started yet: no log.</p>
      )}
    </section>
  );
}
