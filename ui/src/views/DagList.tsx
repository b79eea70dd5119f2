import { useState } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { api, can, ok, type DagSummary, type Me } from '../api/client';
import { keys, useDags } from '../queries';
import { links } from '../router';
import { fmtTime, stateColor } from '../states';
import { ErrorBox, Spinner } from './common';

export function DagList({ me }: { me: Me }) {
  const dags = useDags();
  if (dags.isPending) return <Spinner label="Loading DAGs" />;
  if (dags.isError) return <div className="page"><ErrorBox error={dags.error} /></div>;
  const { dags: list, import_errors } = dags.data;
  return (
    <div className="page">
      <h1>DAGs</h1>
      {import_errors.length > 0 && (
        <section className="import-errors" aria-labelledby="ie-title" data-testid="import-errors">
          <h2 id="ie-title">Files that failed to load ({import_errors.length})</h2>
          <ul>
            {import_errors.map((f) => (
              <li key={f.file}>
                <code>{f.file}</code>
                <ul>
                  {f.errors.map((e, i) => (
                    <li key={i}>
                      <code>
                        {f.file}:{e.line}
                        {e.column ? `:${e.column}` : ''}
                      </code>{' '}
                      {e.field ? <em>{e.field}: </em> : null}
                      {e.message}
                    </li>
                  ))}
                </ul>
              </li>
            ))}
          </ul>
        </section>
      )}
      {list.length === 0 ? (
        <p>No DAGs yet: put YAML files in the DAGs folder.</p>
      ) : (
        <div className="table-wrap">
          <table className="dags" data-testid="dag-table">
            <thead>
              <tr>
                <th scope="col">Active</th>
                <th scope="col">DAG</th>
                <th scope="col">Schedule</th>
                <th scope="col">Next run</th>
                <th scope="col">Recent runs</th>
                <th scope="col"><span className="sr-only">Actions</span></th>
              </tr>
            </thead>
            <tbody>
              {list.map((d) => (
                <DagRow key={d.dag_id} dag={d} me={me} />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

function DagRow({ dag, me }: { dag: DagSummary; me: Me }) {
  const qc = useQueryClient();
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const operator = can.operate(me.role);

  const toggle = async () => {
    setBusy(true);
    setError(null);
    try {
      await ok(api.PATCH('/api/v1/dags/{dag_id}', { params: { path: { dag_id: dag.dag_id } }, body: { paused: !dag.paused } }));
      qc.setQueryData<{ dags: DagSummary[] }>(keys.dags, (d) =>
        d ? { ...d, dags: d.dags.map((x) => (x.dag_id === dag.dag_id ? { ...x, paused: !dag.paused } : x)) } : d,
      );
      void qc.invalidateQueries({ queryKey: keys.dag(dag.dag_id) });
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <tr data-testid={`dag-row-${dag.dag_id}`}>
      <td>
        <label className="switch" title={operator ? undefined : 'Operators can pause DAGs'}>
          <input
            type="checkbox"
            role="switch"
            checked={!dag.paused}
            disabled={!operator || busy}
            onChange={toggle}
            aria-label={`${dag.dag_id} active (unpaused)`}
            data-testid={`pause-${dag.dag_id}`}
          />
          <span aria-hidden="true" />
        </label>
        <ErrorBox error={error} />
      </td>
      <td>
        <a href={links.dag(dag.dag_id)} className="dag-link">{dag.dag_id}</a>
        {dag.paused && <span className="tag paused">paused</span>}
        {dag.description && <div className="muted small">{dag.description}</div>}
        <div className="tags">
          {dag.tags.map((t) => (
            <span className="tag" key={t}>{t}</span>
          ))}
          <span className="muted small">{dag.task_count} tasks</span>
        </div>
      </td>
      <td><code>{dag.schedule ?? 'manual'}</code></td>
      <td>{fmtTime(dag.next_run)}</td>
      <td>
        <ul className="dots" aria-label={`Recent runs of ${dag.dag_id}`}>
          {dag.recent_runs.map((r) => (
            <li key={r.run_id}>
              <a
                href={links.run(dag.dag_id, r.run_id)}
                className="run-dot"
                style={{ background: stateColor(r.state) }}
                aria-label={`${r.run_id}: ${r.state}`}
                title={`${r.run_id}: ${r.state}`}
                data-state={r.state}
              />
            </li>
          ))}
        </ul>
      </td>
      <td>
        {operator && (
          <a className="btn" href={links.trigger(dag.dag_id)} data-testid={`trigger-${dag.dag_id}`}>
            Trigger
          </a>
        )}
      </td>
    </tr>
  );
}
