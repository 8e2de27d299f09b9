/**
 * ggml's scale searches for K-quants (make_qkx2_quants, make_qx_quants with rmse_type 1, make_qp_quants),
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

/** Weighted squared (or, with useMad, absolute) error of levels `L` under scale/min, in float32 as ggml does. */
function levelError(x: Float32Array, from: number, n: number, w: Float32Array, L: Uint8Array, scale: number, min: number, useMad: boolean): number {
  let err = 0;
  for (let i = 0; i < n; i++) {
    const diff = f(f(f(scale * (L[i] ?? 0)) + min) - (x[from + i] ?? 0));
    err = f(err + f((w[i] ?? 0) * (useMad ? Math.abs(diff) : f(diff * diff))));
  }
  return err;
}

/**
 * make_qkx2_quants(n, nmax, x, weights, L, &the_min, Laux, rmin, rdelta, nstep, use_mad). With non-null
 * weights make_qkx3_quants computes the same thing (its `max <= min` test equals `max == min` once min ≤ 0).
 */
export function makeQkx2Quants(n: number, nmax: number, x: Float32Array, from: number, w: Float32Array, L: Uint8Array, rmin: number, rdelta: number, nstep: number, useMad = false): ScaleMin {
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
  let bestError = levelError(x, from, n, w, L, scale, min, useMad);
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
      const err = levelError(x, from, n, w, laux, thisScale, thisMin, useMad);
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

/** Σ w·x·l and Σ w·l² for levels l = clamp(round(iscale·x), −nmax, nmax−1); w = qw[i], else x². */
function sums(x: Float32Array, from: number, n: number, nmax: number, iscale: number, qw: Float32Array | undefined, L?: Int8Array): [number, number] {
  let sumlx = 0, suml2 = 0;
  for (let i = 0; i < n; i++) {
    const v = x[from + i] ?? 0;
    const l = Math.max(-nmax, Math.min(nmax - 1, nearestInt(f(iscale * v))));
    if (L) L[i] = l + nmax;
    const w = qw ? (qw[i] ?? 0) : f(v * v);
    sumlx = f(sumlx + f(f(w * v) * l));
    suml2 = f(suml2 + f(f(w * l) * l));
  }
  return [sumlx, suml2];
}

/**
 * make_qx_quants(n, nmax, x, L, rmse_type = 1, qw): L holds levels + nmax; returns the scale. The weights
 * are qw[0..n) when given (ggml's importance-weighted searches), else x².
 */
export function makeQxQuants(n: number, nmax: number, x: Float32Array, from: number, L: Int8Array, qw?: Float32Array): number {
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
  let [sumlx, suml2] = sums(x, from, n, nmax, iscale, qw, L);
  let scale = suml2 ? f(sumlx / suml2) : 0;
  let best = f(scale * sumlx);
  for (let is = -9; is <= 9; is++) {
    if (is === 0) continue;
    iscale = f(-f(nmax + f(f(0.1) * is)) / max);
    [sumlx, suml2] = sums(x, from, n, nmax, iscale, qw);
    if (suml2 > 0 && f(sumlx * sumlx) > f(best * suml2)) {
      sums(x, from, n, nmax, iscale, qw, L);
      scale = f(sumlx / suml2);
      best = f(scale * sumlx);
    }
  }
  return scale;
}

/** Σ w·(x − scale·l)² with l = min(nmax, round(iscale·x)) (make_qp_quants' trial error). */
function qpError(n: number, nmax: number, x: Float32Array, qw: Float32Array, iscale: number, scale: number): number {
  let mse = 0;
  for (let i = 0; i < n; i++) {
    const v = x[i] ?? 0;
    const l = Math.min(nmax, nearestInt(f(iscale * v)));
    const diff = f(v - f(scale * l));
    mse = f(mse + f(f((qw[i] ?? 0) * diff) * diff));
  }
  return mse;
}

/** Level bounds of a coordinate-descent refinement, and where it tests Σwl² > 0. */
export interface Refinement {
  lo: number;
  hi: number;
  /** make_qp_quants requires Σwl² > 0 before trying a new level; make_q3_quants only after. */
  sl2First: boolean;
}

/** One pass of ggml's level refinement over x[from..from+n) (weights w[0..n)); returns how many levels moved. */
function refinePass(n: number, x: Float32Array, from: number, w: Float32Array, L: Uint8Array | Int8Array, r: Refinement, s: [number, number]): number {
  let changed = 0;
  for (let i = 0; i < n; i++) {
    const wi = w[i] ?? 0, v = x[from + i] ?? 0, li = L[i] ?? 0;
    let slx = f(s[0] - f(f(wi * v) * li));
    let sl2 = f(s[1] - f(f(wi * li) * li));
    if (!(slx > 0) || (r.sl2First && !(sl2 > 0))) continue;
    const newL = Math.max(r.lo, Math.min(r.hi, nearestInt(f(f(v * sl2) / slx))));
    if (newL === li) continue;
    slx = f(slx + f(f(wi * v) * newL));
    sl2 = f(sl2 + f(f(wi * newL) * newL));
    if ((r.sl2First || sl2 > 0) && f(f(slx * slx) * s[1]) > f(f(s[0] * s[0]) * sl2)) {
      L[i] = newL;
      s[0] = slx;
      s[1] = sl2;
      changed++;
    }
  }
  return changed;
}

/**
 * The coordinate descent of make_qp_quants and make_q3_quants: moves one level at a time while
 * (Σwxl)²/Σwl² grows, five passes at most. `s` holds [Σwxl, Σwl²] for the current levels and is updated.
 */
export function refineLevels(n: number, x: Float32Array, from: number, w: Float32Array, L: Uint8Array | Int8Array, r: Refinement, s: [number, number]): void {
  for (let itry = 0; itry < 5; itry++) if (!refinePass(n, x, from, w, L, r, s)) break;
}

/**
 * make_qp_quants(n, nmax, x, L, quant_weights): unsigned levels 0..nmax for non-negative x[0..n) (the
 * sub-block scales and mins of a super-block), weighted by qw; returns the scale. L is uint8 as in ggml.
 */
export function makeQpQuants(n: number, nmax: number, x: Float32Array, L: Uint8Array, qw: Float32Array): number {
  let max = 0;
  for (let i = 0; i < n; i++) max = max > (x[i] ?? 0) ? max : (x[i] ?? 0);
  if (max < GROUP_MAX_EPS) {
    L.fill(0, 0, n);
    return 0;
  }
  let iscale = f(nmax / max);
  for (let i = 0; i < n; i++) L[i] = nearestInt(f(iscale * (x[i] ?? 0))) & 0xff;
  const scale = f(1 / iscale);
  let bestMse = 0;
  for (let i = 0; i < n; i++) {
    const diff = f((x[i] ?? 0) - f(scale * (L[i] ?? 0)));
    bestMse = f(bestMse + f(f((qw[i] ?? 0) * diff) * diff));
  }
  for (let is = -4; is <= 4; is++) {
    if (is === 0) continue;
    const iscaleIs = f(f(f(f(0.1) * is) + nmax) / max);
    const mse = qpError(n, nmax, x, qw, iscaleIs, f(1 / iscaleIs));
    if (mse < bestMse) {
      bestMse = mse;
      iscale = iscaleIs;
    }
  }
  let sumlx = 0, suml2 = 0;
  for (let i = 0; i < n; i++) {
    const w = qw[i] ?? 0, v = x[i] ?? 0;
    const l = Math.min(nmax, nearestInt(f(iscale * v)));
    L[i] = l & 0xff;
    sumlx = f(sumlx + f(f(w * v) * l));
    suml2 = f(suml2 + f(f(w * l) * l));
  }
  const s: [number, number] = [sumlx, suml2];
  refineLevels(n, x, 0, qw, L, { lo: -Infinity, hi: nmax, sl2First: true }, s);
  return s[1] > 0 ? f(s[0] / s[1]) : 0;
}
