/**
 * Index arithmetic of the WGSL kernels (src/kernels/webgpu/wgsl-*.ts, dispatched by backend.ts): every
 * buffer access in bounds and every output element written by exactly one invocation. Thread and loop
 * indices are symbolic; sizes are symbolic where the arithmetic is linear and enumerated up to the bound
 * where a size multiplies another (row-major offsets then go through the mixed-radix lemma, proved once).
 * Constants (workgroup 256, matvec 8 rows × 32 lanes and n ≤ 8, tile 16·tm × 16·tn × bk, attention tile 64,
 * headDim ≤ 256, the 65,535-workgroup fold) are the shaders' own.
 */
import { allOf, defineProofs, type ProofOutcome, type ProofSession, type Z3Arith, type Z3Bool, type Z3Ctx } from '../src/contract/pv/harness.js';
import { proveRadixLemma, radixInstance } from './lib/radix.js';

const MAX_WG = 65535;

function ints(ctx: Z3Ctx, names: readonly string[]): Z3Arith[] {
  return names.map((n) => ctx.Int.const(n));
}

function inRange(v: Z3Arith, hi: Z3Arith | number): Z3Bool {
  return v.ge(0).and(v.lt(hi));
}

/** The uniqueness half of the mixed-radix lemma: x·Y + y = x'·Y + y' with y, y' < Y forces x = x', y = y'. */
function radixUnique(ctx: Z3Ctx, x: Z3Arith, y: Z3Arith, x2: Z3Arith, y2: Z3Arith, Y: Z3Arith): Z3Bool {
  return ctx.Implies(ctx.And(inRange(y, Y), inRange(y2, Y), x.ge(0), x2.ge(0), x.mul(Y).add(y).eq(x2.mul(Y).add(y2))), ctx.And(x.eq(x2), y.eq(y2)));
}

function proveRadixUnique(z: ProofSession): Promise<ProofOutcome> {
  const [x, y, x2, y2, Y] = ints(z.ctx, ['ux', 'uy', 'ux2', 'uy2', 'uY']) as [Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith];
  return z.check(radixUnique(z.ctx, x, y, x2, y2, Y), { show: { x, y, x2, y2, Y }, label: 'mixed-radix uniqueness' });
}

/**
 * The flat grid: count = ⌈T/256⌉ workgroups folded to X = min(count, 65535) along x and Y = ⌈count/X⌉ along y;
 * invocation (gy, gx) with gx < 256·X handles i = gy·256·X + gx when i < T. Both fold cases (X = count, Y = 1;
 * X = 65535) are linear; T is any size below 2³¹.
 */
async function flatGrid(z: ProofSession, plant?: string): Promise<ProofOutcome> {
  const { ctx } = z;
  const [T, W, gy, gx, gy2, gx2, o] = ints(ctx, ['T', 'workgroups', 'gy', 'gx', 'gy2', 'gx2', 'o']) as [Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith];
  const queries: (() => Promise<ProofOutcome>)[] = [];
  for (const wide of [false, true]) {
    const X: Z3Arith = wide ? ctx.Int.val(MAX_WG) : W;
    const Y: Z3Arith = wide ? W.add(MAX_WG - 1).div(MAX_WG) : ctx.Int.val(1);
    const span = X.mul(plant === 'fold-stride-255' ? 255 : 256);
    const dom = [T.ge(1), T.lt(2 ** 31), W.mul(256).ge(T), W.sub(1).mul(256).lt(T), wide ? W.gt(MAX_WG) : W.le(MAX_WG)];
    const idx = (a: Z3Arith, b: Z3Arith): Z3Arith => a.mul(span).add(b);
    const thread = (a: Z3Arith, b: Z3Arith): Z3Bool => ctx.And(inRange(a, Y), inRange(b, span));
    const show = { T, workgroups: W, gy, gx, o };
    queries.push(
      () => z.check(ctx.Implies(inRange(o, T), ctx.And(thread(o.div(span), o.mod(span)), idx(o.div(span), o.mod(span)).eq(o))), { given: dom, show, label: `${wide ? 'folded' : 'single-row'} grid: every i < T has an invocation` }),
      () => z.check(ctx.Implies(ctx.And(thread(gy, gx), thread(gy2, gx2), idx(gy, gx).eq(idx(gy2, gx2))), ctx.And(gy.eq(gy2), gx.eq(gx2))), { given: dom, show, label: `${wide ? 'folded' : 'single-row'} grid: no two invocations share an i` }),
      () => z.check(ctx.Implies(thread(gy, gx), idx(gy, gx).lt(2 ** 32)), { given: dom, show, label: 'no u32 overflow of i' }),
    );
  }
  return allOf(queries);
}

/** Element maps of the flat kernels for every i < T: addBias bias[i mod dim]; kvStore t, g, c of src[i]; rope rows. */
async function flatMaps(z: ProofSession, bound: number, plant?: string): Promise<ProofOutcome> {
  const { ctx } = z;
  const [i, n, cap, sp, heads] = ints(ctx, ['i', 'n', 'capacity', 'startPos', 'heads']) as [Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith];
  const queries: (() => Promise<ProofOutcome>)[] = [() => proveRadixLemma(z)];
  for (let K = 1; K <= bound; K++) {
    for (let d = 1; d <= bound; d++) {
      const t = i.div(K * d);
      const g = i.div(d).mod(K);
      const c = i.mod(d);
      const slot = g.mul(cap).add(sp).add(t);
      const dst = slot.mul(d).add(c);
      const dom = [n.ge(1), sp.ge(0), sp.add(n).le(cap), inRange(i, n.mul(K * d)), radixInstance(ctx, g, ctx.Int.val(K), sp.add(t), cap)];
      const show = { kvHeads: ctx.Int.val(K), headDim: ctx.Int.val(d), i, n, capacity: cap, startPos: sp };
      const back = plant === 'kv-g-unmodded' ? t.mul(K).add(i.div(d)).mul(d).add(c) : t.mul(K).add(g).mul(d).add(c);
      queries.push(() => z.check(ctx.And(back.eq(i), inRange(t, n), inRange(g, K), inRange(c, d), dst.ge(0), dst.lt(cap.mul(K * d))), { given: dom, show, label: `kvStore K=${K} d=${d}: src[i] = src[(t·K + g)·d + c], cache write in bounds` }));
    }
  }
  for (let half = 1; half <= bound; half++) {
    const row = i.div(half);
    const j = i.mod(half);
    const t = row.div(heads);
    const o = row.mul(2 * half);
    const P = ctx.Int.const('tablePositions');
    const dom = [n.ge(1), heads.ge(1), sp.ge(0), P.ge(sp.add(n)), inRange(i, n.mul(heads).mul(half)), radixInstance(ctx, t, n, row.mod(heads), heads), radixInstance(ctx, sp.add(t), P, j, ctx.Int.val(half))];
    const cs = sp.add(t).mul(half).add(j);
    queries.push(() => z.check(ctx.And(o.add(j).ge(0), o.add(j).add(half).lt(n.mul(heads).mul(2 * half)), cs.ge(0), cs.lt(P.mul(half)), inRange(t, n)), { given: [...dom, row.eq(t.mul(heads).add(row.mod(heads)))], show: { half: ctx.Int.val(half), i, n, heads }, label: `rope half=${half}: x pair and cos/sin table reads in bounds` }));
  }
  queries.push(...ropeKvCache(z, bound, { i, n, cap, sp }));
  return allOf(queries);
}

/**
 * The key half of the fused RoPE + cache write (ROPE_KV): pair j of row = ⌊i/half⌋ < n·K, t = ⌊row/K⌋,
 * g = row mod K, written at (g·cap + sp + t)·d + j and + half of the [K][cap][d] cache (d = 2·half); its q half
 * and k reads are the rope maps above with heads = K and heads.
 */
function ropeKvCache(z: ProofSession, bound: number, v: { i: Z3Arith; n: Z3Arith; cap: Z3Arith; sp: Z3Arith }): (() => Promise<ProofOutcome>)[] {
  const { ctx } = z;
  const { i, n, cap, sp } = v;
  const queries: (() => Promise<ProofOutcome>)[] = [];
  for (let half = 1; half <= bound; half++) {
    for (let K = 1; K <= bound; K++) {
      const row = i.div(half);
      const t = row.div(K);
      const g = row.mod(K);
      const dst = g.mul(cap).add(sp).add(t).mul(2 * half).add(i.mod(half));
      const dom = [n.ge(1), sp.ge(0), sp.add(n).le(cap), inRange(i, n.mul(K * half)), radixInstance(ctx, g, ctx.Int.val(K), sp.add(t), cap)];
      queries.push(() => z.check(ctx.And(inRange(t, n), inRange(g, K), row.eq(t.mul(K).add(g)), dst.ge(0), dst.add(half).lt(cap.mul(K * 2 * half))), { given: dom, show: { half: ctx.Int.val(half), kvHeads: ctx.Int.val(K), i, n, capacity: cap, startPos: sp }, label: `ropeKv half=${half} K=${K}: cache writes of the rotated pair in bounds` }));
    }
  }
  return queries;
}

/** rmsnorm/softmax rows and matvec: one workgroup per row (matvec: 8 rows × 32 lanes, n ≤ 8). */
async function rowsAndMatvec(z: ProofSession, plant?: string): Promise<ProofOutcome> {
  const { ctx } = z;
  const [dim, lid, k, lid2, k2, e] = ints(ctx, ['dim', 'lid', 'k', 'lid2', 'k2', 'e']) as [Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith];
  const col = (l: Z3Arith, kk: Z3Arith): Z3Arith => l.add(kk.mul(256));
  const queries: (() => Promise<ProofOutcome>)[] = [
    () => z.check(ctx.Implies(inRange(e, dim), ctx.And(inRange(e.mod(256), 256), e.div(256).ge(0), col(e.mod(256), e.div(256)).eq(e))), { given: [dim.ge(1)], show: { dim, e }, label: 'row kernels: every column i < dim has a (lid, k)' }),
    () => z.check(ctx.Implies(ctx.And(inRange(lid, 256), inRange(lid2, 256), k.ge(0), k2.ge(0), col(lid, k).eq(col(lid2, k2))), ctx.And(lid.eq(lid2), k.eq(k2))), { show: { lid, k }, label: 'row kernels: each column written once' }),
    () => z.check(ctx.Implies(ctx.And(inRange(lid, 256), ctx.Or(...[128, 64, 32, 16, 8, 4, 2, 1].map((v) => k.eq(v))), lid.lt(k)), lid.add(k).lt(256)), { show: { lid, step: k }, label: 'argmax tree: lane lid < s reads am_v/am_i[lid + s] < 256 (s = 128 … 1)' }),
  ];
  const [rows, cols, wg, r, c, t, s] = ints(ctx, ['rows', 'cols', 'wg', 'r', 'c', 't', 'step']) as [Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith];
  const rowOf = (w: Z3Arith, l: Z3Arith): Z3Arith => w.mul(8).add(l.div(32));
  for (let n = 1; n <= 8; n++) {
    const laneOf = (l: Z3Arith): Z3Arith => l.mod(32);
    const outIdx = (l: Z3Arith, w: Z3Arith): Z3Arith => laneOf(l).mul(plant === 'matvec-out-stride-cols' ? cols : rows).add(rowOf(w, l));
    const dom = [rows.ge(1), cols.ge(1), wg.ge(0), wg.mul(8).lt(rows.add(8)), inRange(lid, 256)];
    const writes = ctx.And(laneOf(lid).lt(n), rowOf(wg, lid).lt(rows));
    const show = { n: ctx.Int.val(n), rows, cols, wg, lid };
    queries.push(
      () => z.check(ctx.Implies(writes, ctx.And(outIdx(lid, wg).ge(0), outIdx(lid, wg).lt(rows.mul(n)))), { given: dom, show, label: `matvec n=${n}: out write in bounds` }),
      () => z.check(ctx.Implies(ctx.And(inRange(t, n), inRange(r, rows)), ctx.And(outIdx(r.mod(8).mul(32).add(t), r.div(8)).eq(t.mul(rows).add(r)), r.div(8).mul(8).lt(rows.add(8)))), { given: [rows.ge(1)], show: { ...show, t, r }, label: `matvec n=${n}: out[t, r] written by workgroup ⌊r/8⌋, lid (r mod 8)·32 + t` }),
      () => z.check(ctx.Implies(ctx.And(writes, inRange(lid2, 256), laneOf(lid2).lt(n), rowOf(wg, lid2).lt(rows), outIdx(lid, wg).eq(outIdx(lid2, wg))), lid.eq(lid2)), { given: dom, show, label: `matvec n=${n}: one writer per element within a workgroup` }),
      () => z.check(ctx.Implies(ctx.And(inRange(t, n), inRange(c, cols)), ctx.And(t.mul(cols).add(c).ge(0), t.mul(cols).add(c).lt(cols.mul(n)))), { given: [cols.ge(1)], show: { ...show, t, c }, label: `matvec n=${n}: x reads in bounds` }),
      () => z.check(ctx.Implies(ctx.And(inRange(t, n), ctx.Or(...[16, 8, 4, 2, 1].map((v) => s.eq(v))), laneOf(lid).lt(s)), ctx.And(laneOf(lid).add(s).lt(32), lid.add(s).lt(256), t.mul(256).add(lid).add(s).lt(256 * 8))), { given: dom, show: { ...show, t, step: s }, label: `matvec n=${n}: reduction reads red[t·256 + lid + s] inside the row's 32 lanes` }),
      () => z.check(ctx.Implies(laneOf(lid).lt(n), inRange(laneOf(lid).mul(256).add(lid).sub(laneOf(lid)), 256 * 8)), { given: dom, show, label: `matvec n=${n}: final read red[lane·256 + lid − lane] (lane < n) in bounds` }),
    );
  }
  return allOf(queries);
}

/** Tiled product: thread (ty, tx) of workgroup (wx, wy) owns t = wy·bm + ty + 16i, r = wx·bn + tx + 16j. */
async function tiled(z: ProofSession, plant?: string): Promise<ProofOutcome> {
  const { ctx } = z;
  const queries: (() => Promise<ProofOutcome>)[] = [() => proveRadixLemma(z), () => proveRadixUnique(z)];
  for (const [tm, tn, bk] of [[8, 8, 16], [8, 4, 16], [4, 4, 16], [2, 2, 8]] as const) {
    const bm = 16 * tm;
    const bn = 16 * tn;
    const [n, rows, cols, wy, wx, ty, tx, i, j, e, k0] = ints(ctx, ['n', 'rows', 'cols', 'wy', 'wx', 'ty', 'tx', 'i', 'j', 'e', 'k0']) as [Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith];
    const [wy2, ty2, i2] = ints(ctx, ['wy2', 'ty2', 'i2']) as [Z3Arith, Z3Arith, Z3Arith];
    const tOf = (a: Z3Arith, b: Z3Arith, c: Z3Arith): Z3Arith => a.mul(bm).add(b).add(c.mul(plant === 'tile-row-stride-8' ? 8 : 16));
    const grid = [n.ge(1), rows.ge(1), cols.ge(1), inRange(wy, n.add(bm - 1).div(bm)), inRange(wx, rows.add(bn - 1).div(bn)), inRange(ty, 16), inRange(tx, 16), inRange(i, tm), inRange(j, tn)];
    const tag = `${tm}×${tn}×${bk}`;
    const show = { n, rows, cols, wy, ty, i };
    const t = tOf(wy, ty, i);
    const r = wx.mul(bn).add(tx).add(j.mul(16));
    queries.push(
      () => z.check(ctx.Implies(inRange(e, n), ctx.And(inRange(e.div(bm), n.add(bm - 1).div(bm)), tOf(e.div(bm), e.mod(bm).mod(16), e.mod(bm).div(16)).eq(e), e.mod(bm).div(16).lt(tm))), { given: [n.ge(1)], show: { n, e }, label: `tile ${tag}: every token row t < n has an owner (rows r likewise, with tn)` }),
      () => z.check(ctx.Implies(ctx.And(inRange(wy2, n.add(bm - 1).div(bm)), inRange(ty2, 16), inRange(i2, tm), tOf(wy, ty, i).eq(tOf(wy2, ty2, i2))), ctx.And(wy.eq(wy2), ty.eq(ty2), i.eq(i2))), { given: grid, show, label: `tile ${tag}: one owner per token row` }),
      () => z.check(ctx.Implies(ctx.And(t.lt(n), r.lt(rows)), ctx.And(t.mul(rows).add(r).ge(0), t.mul(rows).add(r).lt(n.mul(rows)))), { given: [...grid, radixInstance(ctx, t, n, r, rows)], show, label: `tile ${tag}: out[t·rows + r] in bounds (injective by mixed-radix uniqueness)` }),
      () => z.check(ctx.Implies(inRange(e, bm * bk), inRange(e.mod(bk).mul(bm).add(e.div(bk)), bk * bm)), { given: grid, show: { e }, label: `tile ${tag}: As staging index k·bm + m inside bk·bm` }),
      () => z.check(ctx.Implies(inRange(e, bn * bk), inRange(e.mod(bk).mul(bn).add(e.div(bk)), bk * bn)), { given: grid, show: { e }, label: `tile ${tag}: Bs staging index k·bn + m inside bk·bn` }),
      () => z.check(ctx.Implies(ctx.And(inRange(e, bm * bk), wy.mul(bm).add(e.div(bk)).lt(n), k0.ge(0), k0.add(e.mod(bk)).lt(cols)), ctx.And(wy.mul(bm).add(e.div(bk)).mul(cols).add(k0).add(e.mod(bk)).lt(n.mul(cols)))), { given: [...grid, radixInstance(ctx, wy.mul(bm).add(e.div(bk)), n, k0.add(e.mod(bk)), cols)], show: { n, cols, wy, e, k0 }, label: `tile ${tag}: guarded x reads inside n·cols` }),
      () => z.check(ctx.And(inRange(ty.add(i.mul(16)), bm), inRange(tx.add(j.mul(16)), bn)), { given: grid, show, label: `tile ${tag}: As/Bs compute reads inside the tile` }),
    );
  }
  return allOf(queries);
}

/**
 * vec4 tiled product (wgsl-matmul-v4.ts, the default when cols ≡ 0 mod 4): thread (ty, tx) = (⌊lid/16⌋,
 * lid mod 16) owns t = wy·bm + 64⌊i/4⌋ + 4ty + (i mod 4) for i < tm (rows r likewise with tn). Staging: slot
 * e < bm·bk/4 loads x4[((t0 + m)·cols + k0 + k)/4] with m = ⌊e/kq⌋, k = 4(e mod kq), kq = bk/4, and stores
 * its four lanes at As[(k + j)·stride + ⌊m/4⌋] (stride = bm/4 + pad); compute reads As[k·stride + 16g + ty].
 */
async function tiled4(z: ProofSession, plant?: string): Promise<ProofOutcome> {
  const { ctx } = z;
  const queries: (() => Promise<ProofOutcome>)[] = [() => proveRadixLemma(z)];
  for (const [tm, bk, pad] of [[8, 16, 1], [8, 32, 0], [4, 16, 1], [4, 8, 1]] as const) {
    const bm = 16 * tm;
    const kq = bk / 4;
    const stride = bm / 4 + pad;
    const [n, cols, wy, ty, i, e, k0, wy2, ty2, i2, j, k, g, cols4] = ints(ctx, ['n', 'cols', 'wy', 'ty', 'i', 'e', 'k0', 'wy2', 'ty2', 'i2', 'j', 'k', 'g', 'cols4']) as [Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith];
    const tOf = (a: Z3Arith, b: Z3Arith, c: Z3Arith): Z3Arith => a.mul(bm).add(c.div(4).mul(64)).add(b.mul(plant === 'tile4-row-stride-2' ? 2 : 4)).add(c.mod(4));
    const wgs = n.add(bm - 1).div(bm);
    const grid = [n.ge(1), inRange(wy, wgs), inRange(ty, 16), inRange(i, tm)];
    const tag = `v4 ${tm}×${bk}${pad ? ' padded' : ''}`;
    const m = e.div(kq);
    const kk = e.mod(kq).mul(4);
    queries.push(
      () => z.check(ctx.Implies(inRange(e, n), ctx.And(inRange(e.div(bm), wgs), inRange(e.mod(bm).mod(64).div(4), 16), inRange(e.mod(bm).div(64).mul(4).add(e.mod(4)), tm), tOf(e.div(bm), e.mod(bm).mod(64).div(4), e.mod(bm).div(64).mul(4).add(e.mod(4))).eq(e))), { given: [n.ge(1)], show: { n, e }, label: `tile ${tag}: every row t < n has an owner (weight rows likewise)` }),
      () => z.check(ctx.Implies(ctx.And(inRange(wy2, wgs), inRange(ty2, 16), inRange(i2, tm), tOf(wy, ty, i).eq(tOf(wy2, ty2, i2))), ctx.And(wy.eq(wy2), ty.eq(ty2), i.eq(i2))), { given: grid, show: { n, wy, ty, i }, label: `tile ${tag}: one owner per row` }),
      () => z.check(ctx.Implies(ctx.And(inRange(e, bm * kq), inRange(j, 4)), ctx.And(inRange(m, bm), inRange(kk.add(j).mul(stride).add(m.div(4)), bk * stride))), { show: { e, j }, label: `tile ${tag}: staging slot m < bm and store (k + j)·stride + ⌊m/4⌋ inside the tile` }),
      () => z.check(ctx.Implies(ctx.And(inRange(k, bk), inRange(g, tm / 4), inRange(ty, 16)), inRange(k.mul(stride).add(g.mul(16)).add(ty), bk * stride)), { show: { k, g, ty }, label: `tile ${tag}: compute reads As[k·stride + 16g + ty] inside the tile` }),
      () => z.check(ctx.Implies(ctx.And(inRange(e, bm * kq), wy.mul(bm).add(m).lt(n), k0.ge(0), k0.mod(bk).eq(0), k0.add(kk).lt(cols), cols.eq(cols4.mul(4))), ctx.And(wy.mul(bm).add(m).mul(cols).add(k0).add(kk).mod(4).eq(0), wy.mul(bm).add(m).mul(cols).add(k0).add(kk).add(3).lt(n.mul(cols)))), { given: [...grid, cols4.ge(1), radixInstance(ctx, wy.mul(bm).add(m), n, k0.add(kk), cols)], show: { n, cols, wy, e, k0 }, label: `tile ${tag}: guarded vec4 x reads aligned and inside n·cols` }),
    );
  }
  return allOf(queries);
}

/**
 * Blocked matvec (wgsl-matmul-v4.ts), n ≤ 8 rows from tb with tb + n ≤ N: out[(tb + lane)·rows + r] and
 * x4[((tb + t)·cols)/4 + c4 + w] in bounds; Q8_0 and Q6_K read nine u32 words from W = ⌊o/4⌋ of an even
 * byte offset o whose 32-byte run ends inside the weight.
 */
async function blockedMatvec(z: ProofSession, plant?: string): Promise<ProofOutcome> {
  const { ctx } = z;
  const [N, tb, nn, t, rows, r, cols4, c4, lane] = ints(ctx, ['N', 'tb', 'n', 't', 'rows', 'r', 'cols4', 'c4', 'lane']) as [Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith];
  const dom = [N.ge(1), tb.ge(0), nn.ge(1), nn.le(8), tb.add(nn).le(N), inRange(r, rows), cols4.ge(1)];
  const [rr, nb, b, k, off] = ints(ctx, ['r', 'blocksPerRow', 'b', 'k', 'off']) as [Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith];
  const words = (bb: number, offs: number[]): (() => Promise<ProofOutcome>) => {
    const o = rr.mul(nb).add(b).mul(bb);
    const total = rows.mul(nb).mul(bb);
    const end = plant === 'run-ten-words' ? 10 : 9;
    return () => z.check(ctx.Implies(ctx.And(ctx.Or(...offs.map((v) => off.eq(v))), inRange(k, end)), ctx.And(o.add(off).div(4).add(k).ge(0), o.add(off).div(4).add(k).lt(total.add(3).div(4)))), { given: [inRange(rr, rows), nb.ge(1), inRange(b, nb), radixInstance(ctx, rr, rows, b, nb)], show: { rows, blocksPerRow: nb, r: rr, b, off, k }, label: `${bb}-byte blocks: word ⌊(o + off)/4⌋ + k (k < 9) inside the weight` });
  };
  return allOf([
    () => proveRadixLemma(z),
    () => z.check(ctx.Implies(inRange(lane, nn), ctx.And(tb.add(lane).mul(rows).add(r).ge(0), tb.add(lane).mul(rows).add(r).lt(N.mul(rows)))), { given: [...dom, radixInstance(ctx, tb.add(lane), N, r, rows)], show: { N, tb, n: nn, rows, r, lane }, label: 'blocked matvec: out[(tb + lane)·rows + r] inside N·rows' }),
    () => z.check(ctx.Implies(ctx.And(inRange(t, nn), inRange(c4, cols4)), inRange(tb.add(t).mul(cols4).add(c4), N.mul(cols4))), { given: [...dom, radixInstance(ctx, tb.add(t), N, c4, cols4)], show: { N, tb, n: nn, t, c4 }, label: 'blocked matvec: x4[(tb + t)·cols/4 + c4] inside N·cols/4' }),
    words(34, [0]),
    words(210, [0, 32, 64, 96, 128, 160]),
  ]);
}

/** Attention: workgroup (h, t), 64 threads, output dims i = lid + 64k (k < 4, d ≤ 256); GQA head g = ⌊h/rep⌋. */
async function attention(z: ProofSession, plant?: string): Promise<ProofOutcome> {
  const { ctx } = z;
  const [K, rep, h, t, n, d, lid, k, lid2, k2, e, j, sp, cap] = ints(ctx, ['kvHeads', 'rep', 'h', 't', 'n', 'headDim', 'lid', 'k', 'lid2', 'k2', 'e', 'j', 'startPos', 'capacity']) as [Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith];
  const dim = (l: Z3Arith, kk: Z3Arith): Z3Arith => l.add(kk.mul(plant === 'attn-dim-stride-32' ? 32 : 64));
  const g = h.div(rep);
  const dom = [K.ge(1), rep.ge(1), inRange(h, K.mul(rep)), d.ge(1), d.le(256), n.ge(1), inRange(t, n), sp.ge(0), sp.add(n).le(cap)];
  return allOf([
    () => proveRadixLemma(z),
    () => z.check(ctx.Implies(inRange(e, d), ctx.And(inRange(e.mod(64), 64), inRange(e.div(64), 4), dim(e.mod(64), e.div(64)).eq(e))), { given: dom, show: { headDim: d, e }, label: 'every output dim i < d has a (lid, k), k < 4' }),
    () => z.check(ctx.Implies(ctx.And(inRange(lid, 64), inRange(lid2, 64), inRange(k, 4), inRange(k2, 4), dim(lid, k).eq(dim(lid2, k2))), ctx.And(lid.eq(lid2), k.eq(k2))), { show: { lid, k }, label: 'each output dim written once per workgroup' }),
    () => z.check(ctx.And(inRange(g, K)), { given: dom, show: { kvHeads: K, rep, h }, label: 'KV head ⌊h/rep⌋ < kvHeads' }),
    () => z.check(ctx.Implies(ctx.And(inRange(j, sp.add(t).add(1)), inRange(e, d)), inRange(g.mul(cap).add(j).mul(d).add(e), K.mul(cap).mul(d))), { given: [...dom, inRange(g, K), radixInstance(ctx, g, K, j, cap), radixInstance(ctx, g.mul(cap).add(j), K.mul(cap), e, d)], show: { kvHeads: K, capacity: cap, headDim: d, j, e }, label: 'K/V reads at positions j ≤ startPos + t < capacity in bounds' }),
    () => z.check(ctx.Implies(inRange(e, d), inRange(t.mul(K.mul(rep)).add(h).mul(d).add(e), n.mul(K.mul(rep)).mul(d))), { given: [...dom, radixInstance(ctx, t, n, h, K.mul(rep)), radixInstance(ctx, t.mul(K.mul(rep)).add(h), n.mul(K.mul(rep)), e, d)], show: { n, h, t, e }, label: 'q reads and out writes inside n·heads·d' }),
  ]);
}

/**
 * attendRows: row r of a dispatch is row r0 + r < n of q/k/v/out (rows = min(48, n − r0) per dispatch, parameter
 * word 16 + r < 64); its place word slot·2²⁴ + pos decodes to slot and pos (slot < 256, pos < 2²⁴, the word < 2³²);
 * its K/V reads and writes slot·stride + (g·cap + j)·d + e, j ≤ pos < cap, stay inside the S·stride floats of the
 * slot set (stride ≥ K·cap·d, as allocSlots pads it).
 */
async function attendRows(z: ProofSession, plant?: string): Promise<ProofOutcome> {
  const { ctx } = z;
  const [S, stride, K, g, cap, d, slot, pos, j, e, n, r0, r] = ints(ctx, ['slots', 'stride', 'kvHeads', 'g', 'capacity', 'headDim', 'slot', 'pos', 'j', 'e', 'n', 'r0', 'r']) as [Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith];
  const shift = plant === 'place-shift-16' ? 2 ** 16 : 2 ** 24;
  const word = slot.mul(2 ** 24).add(pos);
  const inner = g.mul(cap).add(j).mul(d).add(e);
  const dom = [S.ge(1), K.ge(1), d.ge(1), cap.ge(1), stride.ge(K.mul(cap).mul(d)), inRange(slot, S), slot.lt(256), inRange(pos, cap), pos.lt(2 ** 24), inRange(g, K), inRange(j, pos.add(1)), inRange(e, d)];
  const rows = ctx.If(n.sub(r0).lt(48), n.sub(r0), ctx.Int.val(48)) as Z3Arith;
  return allOf([
    () => proveRadixLemma(z),
    () => z.check(ctx.And(word.div(shift).eq(slot), word.mod(shift).eq(pos), word.lt(2 ** 32)), { given: dom, show: { slot, pos }, label: 'place word slot·2²⁴ + pos decodes to slot (>> 24) and pos (& 0xFFFFFF), below 2³²' }),
    () => z.check(inRange(slot.mul(stride).add(inner), S.mul(stride)), { given: [...dom, radixInstance(ctx, g, K, j, cap), radixInstance(ctx, g.mul(cap).add(j), K.mul(cap), e, d), radixInstance(ctx, slot, S, inner, stride)], show: { slots: S, stride, kvHeads: K, capacity: cap, headDim: d, slot, pos, j, e }, label: 'K/V offsets of every row inside the slot set' }),
    () => z.check(ctx.Implies(ctx.And(inRange(r0, n), inRange(r, rows)), ctx.And(inRange(r0.add(r), n), r.add(16).lt(64))), { show: { n, r0, r }, label: 'dispatch row r0 + r < n, its place word 16 + r < 64' }),
  ]);
}

/** Last byte each WGSL wload reads for element c of row r lies inside the weight's rows·nb·blockBytes bytes. */
async function weightBytes(z: ProofSession, plant?: string): Promise<ProofOutcome> {
  const { ctx } = z;
  const [r, rows, nb, c] = ints(ctx, ['r', 'rows', 'blocksPerRow', 'c']) as [Z3Arith, Z3Arith, Z3Arith, Z3Arith];
  const formats: [string, number, number, (o: Z3Arith, w: Z3Arith) => Z3Arith[]][] = [
    ['Q8_0', 32, 34, (o, w) => [o, o.add(1), o.add(2).add(w)]],
    ['Q4_0', 32, 18, (o, w) => [o, o.add(1), o.add(2).add(w.mod(16))]],
    ['Q4_K', 256, 144, (o, w) => [o.add(3), o.add(4).add(w.div(64).mul(2).add(1)).add(8), o.add(4).add(w.div(64).mul(2).add(w.mod(64).div(32))).add(4), o.add(plant === 'q4k-quants-at-17' ? 17 : 16).add(w.div(64).mul(32)).add(w.mod(32))]],
    ['Q6_K', 256, 210, (o, w) => [o.add(209), o.add(w.div(128).mul(64)).add(w.mod(32)).add(w.mod(128).div(32).mod(2).mul(32)), o.add(128).add(w.div(128).mul(32)).add(w.mod(32)), o.add(192).add(w.div(128).mul(8)).add(w.mod(32).div(16)).add(w.mod(128).div(32).mul(2))]],
    ['F16', 1, 2, (o) => [o, o.add(1)]],
  ];
  const queries: (() => Promise<ProofOutcome>)[] = [() => proveRadixLemma(z)];
  for (const [name, bs, bb, reads] of formats) {
    const blk = r.mul(nb).add(c.div(bs));
    const o = blk.mul(bb);
    const total = rows.mul(nb).mul(bb);
    const dom = [rows.ge(1), nb.ge(1), inRange(r, rows), inRange(c, nb.mul(bs)), radixInstance(ctx, r, rows, c.div(bs), nb), c.div(bs).lt(nb)];
    queries.push(() => z.check(ctx.And(...reads(o, c.mod(bs)).map((b) => ctx.And(b.ge(0), b.lt(total), b.div(4).lt(total.add(3).div(4))))), { given: dom, show: { r, rows, blocksPerRow: nb, c }, label: `${name}: every byte (and its u32 word) wload reads is inside the weight` }));
  }
  return allOf(queries);
}

const C = 'webgpu-backend-v1';
export const proofs = defineProofs([
  { id: 'PF-webgpu-flat-grid', contract: C, obligation: 'webgpu-flat-indexing', bound: null, title: 'flat kernels (add, swiglu, addBias, kvStore, rope, embed): the folded grid gives each i < T exactly one invocation, no u32 overflow', plants: { 'fold-stride-255': 'row stride 255·X instead of 256·X' }, run: (z, o) => flatGrid(z, o.plant) },
  { id: 'PF-webgpu-flat-maps', contract: C, obligation: 'webgpu-flat-maps-indexing', bound: 6, title: 'kvStore decomposition i = (t·K + g)·d + c and cache writes, rope pair and table reads, fused ropeKv cache writes in bounds (K, d, half ≤ bound; n, capacity, heads symbolic)', plants: { 'kv-g-unmodded': 'g = i/d without mod K' }, run: (z, o) => flatMaps(z, o.bound, o.plant) },
  { id: 'PF-webgpu-rows-matvec', contract: C, obligation: 'webgpu-matvec-indexing', bound: null, title: 'rmsnorm/softmax/argmax columns and matvec (n ≤ 8; with P3 = 1 it reads the out element it writes): every output written exactly once, x and reduction reads in bounds; blocked matvec chunks (tb + n ≤ N) and Q8_0/Q6_K word runs in bounds', plants: { 'matvec-out-stride-cols': 'out[lane·cols + r]', 'run-ten-words': 'ten-word runs' }, run: async (z, o) => allOf([() => rowsAndMatvec(z, o.plant), () => blockedMatvec(z, o.plant)]) },
  { id: 'PF-webgpu-tiled', contract: C, obligation: 'webgpu-tiled-indexing', bound: null, title: 'tiled matmul, scalar (8×8×16, 8×4×16, 4×4×16, 2×2×8) and vec4 (tm 8/4, bk 8/16/32): each out[t, r] has one owner, staging and x reads in bounds', plants: { 'tile-row-stride-8': 'rows ty + 8i', 'tile4-row-stride-2': 'v4 rows 2ty' }, run: async (z, o) => allOf([() => tiled(z, o.plant), () => tiled4(z, o.plant)]) },
  { id: 'PF-webgpu-attention', contract: C, obligation: 'webgpu-attention-indexing', bound: null, title: 'attention: output dims lid + 64k written once, GQA head in range, K/V/q/out offsets in bounds', plants: { 'attn-dim-stride-32': 'dims lid + 32k' }, run: (z, o) => attention(z, o.plant) },
  { id: 'PF-webgpu-attend-rows', contract: C, obligation: 'webgpu-attend-rows-indexing', bound: null, title: 'attendRows: place words decode to slot and position, every row’s K/V offsets inside the slot set, dispatch rows and place words in range', plants: { 'place-shift-16': 'slot read as word >> 16' }, run: (z, o) => attendRows(z, o.plant) },
  { id: 'PF-webgpu-weight-bytes', contract: C, obligation: 'webgpu-weight-bytes-indexing', bound: null, title: 'WGSL wload of Q8_0, Q4_0, Q4_K, Q6_K, F16 reads only bytes of its own row’s blocks', plants: { 'q4k-quants-at-17': 'Q4_K quants read from byte 17 of the block instead of 16' }, run: (z, o) => weightBytes(z, o.plant) },
]);
