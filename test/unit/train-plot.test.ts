import { describe, expect, it } from 'vitest';
import { lossCurveSvg } from '../../src/train/plot-svg.js';
import type { EpochRecord } from '../../src/train/types.js';

const rec = (epoch: number, trainLoss: number, valLoss: number | null): EpochRecord => ({
  epoch, trainLoss, valLoss, trainPpl: Math.exp(trainLoss), valPpl: valLoss === null ? null : Math.exp(valLoss), lr: 1e-3, seconds: 1, metrics: {}, valMetrics: {},
});

function points(svg: string, i: number): [number, number][] {
  const m = [...svg.matchAll(/<polyline[^>]*points="([^"]+)"/g)][i];
  return (m?.[1] ?? '').split(' ').map((p) => p.split(',').map(Number) as [number, number]);
}

describe('loss curve SVG', () => {
  it('draws train and validation as polylines, one point per epoch, lower loss higher on the page', () => {
    const svg = lossCurveSvg([rec(1, 3, 3.2), rec(2, 2, 2.5), rec(3, 1.5, 2.4)], 'a <title> & more');
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg).toContain('a &lt;title&gt; &amp; more');
    const train = points(svg, 0), val = points(svg, 1);
    expect(train).toHaveLength(3);
    expect(val).toHaveLength(3);
    expect(train[0]![0]).toBeLessThan(train[1]![0]); // x grows with the epoch
    expect(train[0]![1]).toBeLessThan(train[2]![1]); // SVG y grows downwards: loss 3 above loss 1.5
    expect(val[2]![1]).toBeLessThan(train[2]![1]); // val 2.4 above train 1.5
    for (const [x, y] of [...train, ...val]) {
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThanOrEqual(640);
      expect(y).toBeGreaterThanOrEqual(0);
      expect(y).toBeLessThanOrEqual(360);
    }
  });
  it('omits the validation series when there is none, and handles a single flat epoch', () => {
    const svg = lossCurveSvg([rec(1, 2, null)]);
    expect(svg.match(/<polyline/g)).toHaveLength(1);
    expect(svg).not.toContain('validation');
    expect(svg).not.toContain('NaN');
  });
});
