/** 1536 → "1.5 KiB": byte counts as a person reads them. */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export const percent = (share: number) => `${(share * 100).toFixed(share >= 0.999 || share === 0 ? 0 : 1)} %`;

export const time = (iso: string) => new Date(iso).toLocaleString();

/** A hash shortened for a table cell; the full value is in the title. */
export const shortHash = (hash: string | null) => (hash ? `${hash.slice(0, 12)}…` : '—');
