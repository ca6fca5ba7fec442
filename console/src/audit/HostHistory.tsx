import type { History } from '@dropops/protocol/execution';
import { useState } from 'react';
import { time } from '../lib/format.ts';
import { api } from '../lib/http.ts';
import { useOperators } from '../operators/useOperators.ts';

/** A host's own audit vault, fetched live from its operator on request; the appliance stores none of it. */
export function HostHistory() {
  const { operators } = useOperators();
  const [operatorId, setOperatorId] = useState('');
  const [history, setHistory] = useState<History | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const fetchHistory = async () => {
    setBusy(true);
    setProblem(null);
    try {
      setHistory(await api<History>('POST', `/api/org/operators/${operatorId}/history`, { limit: 100 }));
    } catch (err) {
      setProblem((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="host-history" aria-labelledby="host-history-title">
      <h2 id="host-history-title">A host's own history</h2>
      <p className="hint">
        Read live from the operator's vault on the host (redacted there); the appliance keeps none of it.
      </p>
      <div className="filters">
        <select name="operator" value={operatorId} onChange={(e) => setOperatorId(e.target.value)}>
          <option value="">choose an operator</option>
          {operators
            ?.filter((o) => o.connected)
            .map((o) => (
              <option key={o.id} value={o.id}>
                {o.name}
              </option>
            ))}
        </select>
        <button type="button" disabled={!operatorId || busy} onClick={() => void fetchHistory()}>
          Fetch from host
        </button>
      </div>
      {problem && <p role="alert">{problem}</p>}
      {history && (
        <table className="audit-table" data-testid="host-history">
          <caption>
            Chain head {history.chainHead.seq} · {history.chainHead.hash.slice(0, 16)}…
          </caption>
          <thead>
            <tr>
              <th>#</th>
              <th>When</th>
              <th>Type</th>
              <th>Payload</th>
            </tr>
          </thead>
          <tbody>
            {history.events
              .slice()
              .reverse()
              .map((e) => (
                <tr key={e.seq} data-testid="host-history-row">
                  <td>{e.seq}</td>
                  <td>{time(e.at)}</td>
                  <td>{e.type}</td>
                  <td className="mono details">{JSON.stringify(e.payload)}</td>
                </tr>
              ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
