import type { EpochRecord } from './types.js';

const W = 640, H = 360;
const PAD = { left: 60, right: 20, top: 30, bottom: 45 };

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function fmt(x: number): string {
  return Number(x.toPrecision(4)).toString();
}

interface Scale {
  x(epoch: number): number;
  y(loss: number): number;
  lo: number;
  hi: number;
  maxEpoch: number;
}

function scaleOf(history: readonly EpochRecord[]): Scale {
  const values = history.flatMap((r) => [r.trainLoss, r.valLoss ?? Number.NaN]).filter(Number.isFinite);
  let lo = values.length ? Math.min(...values) : 0;
  let hi = values.length ? Math.max(...values) : 1;
  if (hi - lo < 1e-9) [lo, hi] = [lo - 0.5, hi + 0.5];
  const margin = 0.05 * (hi - lo);
  lo -= margin;
  hi += margin;
  const maxEpoch = Math.max(1, ...history.map((r) => r.epoch));
  const pw = W - PAD.left - PAD.right, ph = H - PAD.top - PAD.bottom;
  return {
    x: (e) => PAD.left + (maxEpoch === 1 ? pw / 2 : ((e - 1) / (maxEpoch - 1)) * pw),
    y: (l) => PAD.top + ((hi - l) / (hi - lo)) * ph,
    lo,
    hi,
    maxEpoch,
  };
}

function series(history: readonly EpochRecord[], s: Scale, pick: (r: EpochRecord) => number | null, color: string): string {
  const pts = history.flatMap((r) => {
    const v = pick(r);
    return v !== null && Number.isFinite(v) ? [[s.x(r.epoch), s.y(v)] as const] : [];
  });
  if (pts.length === 0) return '';
  const line = `<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ')}"/>`;
  return line + pts.map(([x, y]) => `<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="3" fill="${color}"/>`).join('');
}

function axes(s: Scale): string {
  const parts = [`<line x1="${PAD.left}" y1="${H - PAD.bottom}" x2="${W - PAD.right}" y2="${H - PAD.bottom}" stroke="#333"/>`, `<line x1="${PAD.left}" y1="${PAD.top}" x2="${PAD.left}" y2="${H - PAD.bottom}" stroke="#333"/>`];
  for (let i = 0; i <= 4; i++) {
    const v = s.lo + ((s.hi - s.lo) * i) / 4;
    const y = s.y(v).toFixed(1);
    parts.push(`<line x1="${PAD.left - 4}" y1="${y}" x2="${W - PAD.right}" y2="${y}" stroke="#ddd"/><text x="${PAD.left - 8}" y="${y}" text-anchor="end" dominant-baseline="middle">${fmt(v)}</text>`);
  }
  const step = Math.max(1, Math.ceil(s.maxEpoch / 10));
  for (let e = 1; e <= s.maxEpoch; e += step) parts.push(`<text x="${s.x(e).toFixed(1)}" y="${H - PAD.bottom + 18}" text-anchor="middle">${e}</text>`);
  parts.push(`<text x="${(W + PAD.left) / 2}" y="${H - 8}" text-anchor="middle">epoch</text>`);
  parts.push(`<text x="16" y="${H / 2}" text-anchor="middle" transform="rotate(-90 16 ${H / 2})">loss</text>`);
  return parts.join('');
}

/** The loss curve (train, and validation when present) of a training history as a standalone SVG document. */
export function lossCurveSvg(history: readonly EpochRecord[], title = 'loss'): string {
  const s = scaleOf(history);
  const hasVal = history.some((r) => r.valLoss !== null);
  const legend = `<g font-size="12"><rect x="${W - 150}" y="8" width="12" height="3" fill="#1f77b4"/><text x="${W - 132}" y="13">train</text>${hasVal ? `<rect x="${W - 90}" y="8" width="12" height="3" fill="#ff7f0e"/><text x="${W - 72}" y="13">validation</text>` : ''}</g>`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${PAD.left}" y="18" font-size="14">${esc(title)}</text>`,
    axes(s),
    series(history, s, (r) => r.trainLoss, '#1f77b4'),
    series(history, s, (r) => r.valLoss, '#ff7f0e'),
    legend,
    '</svg>\n',
  ].join('');
}
