import type { TransmissionFigures } from '@dropops/protocol/console';
import { bytes, percent, shortHash } from '../lib/format.ts';
import { ShareChart } from './ShareChart.tsx';

/**
 * What each command's output did: bytes that stayed on the host, bytes that left it for the model (redacted
 * and cut on the host), bytes of metadata the appliance stored, the output's hash, and the running share kept
 * local. Live: a row appears as each run's figures arrive.
 */
export function TransmissionMonitor({ figures }: { figures: TransmissionFigures[] }) {
  const last = figures[figures.length - 1];
  const kept = figures.reduce((sum, f) => sum + f.keptOnHostBytes, 0);
  const sent = figures.reduce((sum, f) => sum + f.sentToModelBytes, 0);
  return (
    <section className="monitor" data-testid="transmission-monitor" aria-labelledby="monitor-title">
      <h2 id="monitor-title">Transmission monitor</h2>
      <div className="monitor-summary">
        <div>
          <span className="figure" data-testid="share-kept-local">
            {last ? percent(last.cumulativeLocalShare) : '—'}
          </span>
          <span className="label">of all output never left its host</span>
        </div>
        <div>
          <span className="figure" data-testid="bytes-kept-local">
            {bytes(kept)}
          </span>
          <span className="label">output, kept on the hosts</span>
        </div>
        <div>
          <span className="figure">{bytes(sent)}</span>
          <span className="label">of it sent to the model, redacted</span>
        </div>
      </div>
      <ShareChart figures={figures} />
      <p className="legend">
        <span className="swatch kept" aria-hidden="true" /> kept on host{' '}
        <span className="swatch sent" aria-hidden="true" /> sent to model
      </p>
      <table className="monitor-table">
        <thead>
          <tr>
            <th>Host</th>
            <th>Kept</th>
            <th>To model</th>
            <th>Stored</th>
            <th>Output sha256</th>
          </tr>
        </thead>
        <tbody>
          {figures.length === 0 && (
            <tr>
              <td colSpan={5} className="hint">
                No command has run yet.
              </td>
            </tr>
          )}
          {figures.map((f) => (
            <tr key={f.executionId} data-testid="monitor-row">
              <td>{f.operator}</td>
              <td>{bytes(f.keptOnHostBytes)}</td>
              <td>{bytes(f.sentToModelBytes)}</td>
              <td>{bytes(f.storedBytes)}</td>
              <td className="mono" title={f.outputSha256 ?? undefined}>
                {shortHash(f.outputSha256)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
