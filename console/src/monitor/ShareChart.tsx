import type { TransmissionFigures } from '@dropops/protocol/console';
import { bytes, percent } from '../lib/format.ts';

const WIDTH = 320;
const HEIGHT = 140;
const PAD = { left: 34, right: 8, top: 8, bottom: 18 };

/**
 * Per command, a bar of the output bytes kept on the host with, inside it, a narrower bar of the bytes sent to
 * the model (one scale), and the line of the cumulative share kept local (0 to 100 % of the plot's height). Plain SVG with presentation
 * attributes and classes: nothing for the CSP to refuse.
 */
export function ShareChart({ figures }: { figures: TransmissionFigures[] }) {
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const max = Math.max(1, ...figures.map((f) => Math.max(f.keptOnHostBytes, f.sentToModelBytes)));
  const slot = plotW / Math.max(figures.length, 1);
  const barW = Math.max(2, Math.min(28, slot * 0.7));
  const y = (value: number) => PAD.top + plotH - (value / max) * plotH;
  const shareY = (share: number) => PAD.top + plotH - share * plotH;
  const line = figures
    .map(
      (f, i) =>
        `${i === 0 ? 'M' : 'L'}${(PAD.left + slot * i + slot / 2).toFixed(1)},${shareY(f.cumulativeLocalShare).toFixed(1)}`,
    )
    .join(' ');
  const last = figures[figures.length - 1];
  return (
    <svg
      className="share-chart"
      viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
      role="img"
      aria-label={
        last
          ? `${figures.length} commands; ${percent(last.cumulativeLocalShare)} of output bytes kept on the hosts`
          : 'no command yet'
      }
      data-testid="share-chart"
    >
      <line className="axis" x1={PAD.left} y1={PAD.top + plotH} x2={WIDTH - PAD.right} y2={PAD.top + plotH} />
      <line className="axis" x1={PAD.left} y1={PAD.top} x2={PAD.left} y2={PAD.top + plotH} />
      <text className="tick" x={PAD.left - 4} y={PAD.top + 8} textAnchor="end">
        {bytes(max)}
      </text>
      <text className="tick" x={PAD.left - 4} y={PAD.top + plotH} textAnchor="end">
        0
      </text>
      {figures.map((f, i) => {
        const x = PAD.left + slot * i + (slot - barW) / 2;
        const keptTop = y(f.keptOnHostBytes);
        const sentTop = y(f.sentToModelBytes);
        const bottom = PAD.top + plotH;
        return (
          <g key={f.executionId}>
            <title>{`${f.operator}: ${bytes(f.keptOnHostBytes)} kept, ${bytes(f.sentToModelBytes)} to the model`}</title>
            <rect className="kept" x={x} y={keptTop} width={barW} height={bottom - keptTop} />
            <rect className="sent" x={x + barW / 4} y={sentTop} width={barW / 2} height={bottom - sentTop} />
          </g>
        );
      })}
      {figures.length > 0 && <path className="share-line" d={line} />}
      {figures.map((f, i) => (
        <circle
          key={f.executionId}
          className="share-point"
          cx={PAD.left + slot * i + slot / 2}
          cy={shareY(f.cumulativeLocalShare)}
          r={2.5}
        />
      ))}
      <text className="tick" x={WIDTH - PAD.right} y={HEIGHT - 4} textAnchor="end">
        line: share kept local (0–100 %)
      </text>
    </svg>
  );
}
