import { useEffect, useRef, useState, type ReactNode } from 'react';
import { stateColor } from '../states';

export function Spinner({ label = 'Loading' }: { label?: string }) {
  return (
    <p className="spinner" role="status">
      {label}…
    </p>
  );
}

export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  const msg = error instanceof Error ? error.message : String(error);
  return (
    <p className="error" role="alert" data-testid="error">
      {msg}
    </p>
  );
}

export function StateBadge({ state, testid }: { state: string; testid?: string }) {
  return (
    <span className={`badge state-${state}`} data-testid={testid} data-state={state}>
      <span className="dot" style={{ background: stateColor(state) }} aria-hidden="true" />
      {state.replace(/_/g, ' ')}
    </span>
  );
}

export type ConfirmSpec = {
  title: string;
  body?: ReactNode;
  confirmLabel: string;
  danger?: boolean;
  /** A checkbox shown in the dialog (e.g. "also clear downstream"). */
  option?: { label: string; initial: boolean };
  run: (option: boolean) => Promise<unknown>;
};

/** A modal <dialog> (focus trapped and restored by the browser) that runs an action on confirm. */
export function ConfirmDialog({ spec, onClose }: { spec: ConfirmSpec | null; onClose: (done: boolean) => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [option, setOption] = useState(false);

  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (spec) {
      setError(null);
      setBusy(false);
      setOption(spec.option?.initial ?? false);
      if (!d.open) d.showModal();
    } else if (d.open) d.close();
  }, [spec]);

  const confirm = async () => {
    if (!spec) return;
    setBusy(true);
    setError(null);
    try {
      await spec.run(option);
      onClose(true);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <dialog
      ref={ref}
      className="confirm"
      aria-labelledby="confirm-title"
      data-testid="confirm-dialog"
      onCancel={(e) => {
        e.preventDefault();
        if (!busy) onClose(false);
      }}
    >
      {spec && (
        <form method="dialog" onSubmit={(e) => { e.preventDefault(); void confirm(); }}>
          <h2 id="confirm-title">{spec.title}</h2>
          {spec.body && <div className="confirm-body">{spec.body}</div>}
          {spec.option && (
            <label className="check">
              <input type="checkbox" checked={option} onChange={(e) => setOption(e.target.checked)} />
              {spec.option.label}
            </label>
          )}
          <ErrorBox error={error} />
          <div className="actions">
            <button type="button" onClick={() => onClose(false)} disabled={busy}>
              Cancel
            </button>
            <button type="submit" className={spec.danger ? 'btn-danger' : 'btn-primary'} disabled={busy} autoFocus>
              {busy ? 'Working…' : spec.confirmLabel}
            </button>
          </div>
        </form>
      )}
    </dialog>
  );
}

export function useConfirm() {
  const [spec, setSpec] = useState<ConfirmSpec | null>(null);
  const [notice, setNotice] = useState('');
  const dialog = (
    <>
      <ConfirmDialog spec={spec} onClose={() => setSpec(null)} />
      <p className="notice" role="status" aria-live="polite" data-testid="notice">
        {notice}
      </p>
    </>
  );
  return { ask: setSpec, dialog, setNotice };
}

export function Tabs({ tabs, current, hrefOf }: { tabs: [string, string][]; current: string; hrefOf: (t: string) => string }) {
  return (
    <nav className="tabs" aria-label="Views">
      {tabs.map(([id, label]) => (
        <a key={id} href={hrefOf(id)} aria-current={id === current ? 'page' : undefined} data-testid={`tab-${id}`}>
          {label}
        </a>
      ))}
    </nav>
  );
}
