import { useSparkApp } from '../queries';
import { fmtBytes, fmtDuration } from '../states';
import { ErrorBox, Spinner } from './common';

export function SparkPanel({ appId }: { appId: string }) {
  const app = useSparkApp(appId);
  return (
    <section className="spark" aria-labelledby="spark-title" data-testid="spark-panel">
      <h3 id="spark-title">Spark application <code>{appId}</code></h3>
      {app.isPending ? <Spinner label="Loading Spark summary" /> : app.isError ? <ErrorBox error={app.error} /> : (
        <>
          <dl className="facts">
            <div><dt>Name</dt><dd>{app.data.name}</dd></div>
            <div><dt>Status</dt><dd data-testid="spark-status">{app.data.status}{app.data.status_reason ? ` (${app.data.status_reason})` : ''}</dd></div>
            <div><dt>Duration</dt><dd>{fmtDuration(app.data.duration_ms)}</dd></div>
            <div><dt>Exit code</dt><dd>{app.data.exit_code ?? '—'}</dd></div>
            <div><dt>Jobs</dt><dd>{app.data.jobs.succeeded ?? 0} succeeded, {app.data.jobs.failed ?? 0} failed, {app.data.jobs.running ?? 0} running</dd></div>
            <div><dt>Stages</dt><dd>{app.data.stages.completed ?? 0} completed, {app.data.stages.failed ?? 0} failed</dd></div>
            <div><dt>Tasks</dt><dd>{app.data.tasks.succeeded ?? 0} succeeded, {app.data.tasks.failed ?? 0} failed</dd></div>
            <div><dt>Executors</dt><dd>{app.data.executors.added ?? 0} added, {app.data.executors.removed ?? 0} removed</dd></div>
            <div><dt>Input / output</dt><dd>{fmtBytes(app.data.input_bytes)} / {fmtBytes(app.data.output_bytes)}</dd></div>
            <div><dt>Shuffle read / write</dt><dd>{fmtBytes(app.data.shuffle_read_bytes)} / {fmtBytes(app.data.shuffle_write_bytes)}</dd></div>
          </dl>
          {app.data.error && <p className="error">{app.data.error}</p>}
          {app.data.history_url ? (
            <p><a href={app.data.history_url} target="_blank" rel="noreferrer" data-testid="spark-history-link">Open in the Spark History Server</a></p>
          ) : (
            <p className="muted small">No History Server is configured.</p>
          )}
        </>
      )}
    </section>
  );
}
