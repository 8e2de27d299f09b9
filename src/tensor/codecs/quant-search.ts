/**
 * ggml's scale searches for K-quants (make_qkx2_quants, make_qx_quants with rmse_type 1 and no weights),
 * emulated in float32: Math.fround after every float operation, in ggml's order (no FMA, no reassociation).
 */
const f = Math.fround;
export const GROUP_MAX_EPS = f(1e-15);

/** ggml's nearest_int: float32 round-half-even via the 1.5·2^23 trick. */
export function nearestInt(v: number): number {
  return f(v + 12582912) - 12582912;
}

export interface ScaleMin {
  scale: number;
  /** ggml's *the_min (the negated offset, ≥ 0). */
  min: number;
}

/** Weighted squared error of levels `L` under scale/min, accumulated in float32 as ggml does. */
function levelError(x: Float32Array, from: number, n: number, w: Float32Array, L: Uint8Array, scale: number, min: number): number {
  let err = 0;
  for (let i = 0; i < n; i++) {
    const diff = f(f(f(scale * (L[i] ?? 0)) + min) - (x[from + i] ?? 0));
    err = f(err + f((w[i] ?? 0) * f(diff * diff)));
  }
  return err;
}

/** make_qkx2_quants(n, nmax, x, weights, L, &the_min, Laux, rmin, rdelta, nstep, use_mad = false). */
export function makeQkx2Quants(n: number, nmax: number, x: Float32Array, from: number, w: Float32Array, L: Uint8Array, rmin: number, rdelta: number, nstep: number): ScaleMin {
  let min = x[from] ?? 0, max = min;
  let sumW = w[0] ?? 0;
  let sumX = f(sumW * min);
  for (let i = 1; i < n; i++) {
    const v = x[from + i] ?? 0;
    if (v < min) min = v;
    if (v > max) max = v;
    sumW = f(sumW + (w[i] ?? 0));
    sumX = f(sumX + f((w[i] ?? 0) * v));
  }
  if (min > 0) min = 0;
  if (max === min) {
    L.fill(0, 0, n);
    return { scale: 0, min: -min };
  }
  let iscale = f(nmax / f(max - min));
  let scale = f(1 / iscale);
  for (let i = 0; i < n; i++) L[i] = Math.max(0, Math.min(nmax, nearestInt(f(iscale * f((x[from + i] ?? 0) - min)))));
  let bestError = levelError(x, from, n, w, L, scale, min);
  const laux = new Uint8Array(n);
  for (let is = 0; is <= nstep; is++) {
    // ggml divides by (max - min) with `min` as updated by the best candidate so far.
    iscale = f(f(f(rmin + f(rdelta * is)) + nmax) / f(max - min));
    let sumL = 0, sumL2 = 0, sumXL = 0;
    for (let i = 0; i < n; i++) {
      const v = x[from + i] ?? 0;
      const l = Math.max(0, Math.min(nmax, nearestInt(f(iscale * f(v - min)))));
      laux[i] = l;
      const wl = f((w[i] ?? 0) * l);
      sumL = f(sumL + wl);
      sumL2 = f(sumL2 + f(wl * l));
      sumXL = f(sumXL + f(wl * v));
    }
    const D = f(f(sumW * sumL2) - f(sumL * sumL));
    if (D > 0) {
      let thisScale = f(f(f(sumW * sumXL) - f(sumX * sumL)) / D);
      let thisMin = f(f(f(sumL2 * sumX) - f(sumL * sumXL)) / D);
      if (thisMin > 0) {
        thisMin = 0;
        thisScale = f(sumXL / sumL2);
      }
      const err = levelError(x, from, n, w, laux, thisScale, thisMin);
      if (err < bestError) {
        L.set(laux.subarray(0, n));
        bestError = err;
        scale = thisScale;
        min = thisMin;
      }
    }
  }
  return { scale, min: -min };
}

function sums(x: Float32Array, from: number, n: number, nmax: number, iscale: number, L?: Int8Array): [number, number] {
  let sumlx = 0, suml2 = 0;
  for (let i = 0; i < n; i++) {
    const v = x[from + i] ?? 0;
    const l = Math.max(-nmax, Math.min(nmax - 1, nearestInt(f(iscale * v))));
    if (L) L[i] = l + nmax;
    const w = f(v * v);
    sumlx = f(sumlx + f(f(w * v) * l));
    suml2 = f(suml2 + f(f(w * l) * l));
  }
  return [sumlx, suml2];
}

/** make_qx_quants(n, nmax, x, L, rmse_type = 1, qw = NULL): L holds levels + nmax; returns the scale. */
export function makeQxQuants(n: number, nmax: number, x: Float32Array, from: number, L: Int8Array): number {
  let max = 0, amax = 0;
  for (let i = 0; i < n; i++) {
    const v = x[from + i] ?? 0;
    if (Math.abs(v) > amax) {
      amax = Math.abs(v);
      max = v;
    }
  }
  if (amax < GROUP_MAX_EPS) {
    L.fill(0, 0, n);
    return 0;
  }
  let iscale = f(-nmax / max);
  let [sumlx, suml2] = sums(x, from, n, nmax, iscale, L);
  let scale = suml2 ? f(sumlx / suml2) : 0;
  let best = f(scale * sumlx);
  for (let is = -9; is <= 9; is++) {
    if (is === 0) continue;
    iscale = f(-f(nmax + f(f(0.1) * is)) / max);
    [sumlx, suml2] = sums(x, from, n, nmax, iscale);
    if (suml2 > 0 && f(sumlx * sumlx) > f(best * suml2)) {
      sums(x, from, n, nmax, iscale, L);
      scale = f(sumlx / suml2);
      best = f(scale * sumlx);
    }
  }
  return scale;
}
