/**
 * Host-built cos/sin tables for the RoPE kernel, computed exactly as src/kernels/cpu/rope.ts does
 * (inv_freq and the angle rounded to float32, cos/sin of that float32 angle), so the device rotates by
 * the same float32 constants the CPU uses. Layout: cos[p·half + i] then sin at sinOffset + p·half + i.
 */

const fr = Math.fround;

export interface RopeTable<B> {
  buf: B;
  positions: number;
  sinOffset: number;
}

class RopeTables<B> {
  private readonly tables = new Map<string, RopeTable<B>>();

  constructor(private readonly upload: (data: Float32Array) => B, private readonly release: (b: B) => void) {}

  table(headDim: number, theta: number, positions: number): RopeTable<B> {
    const key = `${headDim}:${theta}`;
    const t = this.tables.get(key);
    if (t && t.positions >= positions) return t;
    const cap = Math.max(positions, 2 * (t?.positions ?? 0), 256);
    if (t) this.release(t.buf);
    const half = headDim / 2;
    const data = new Float32Array(2 * cap * half);
    for (let i = 0; i < half; i++) {
      const inv = fr(1 / fr(Math.pow(theta, fr((2 * i) / headDim))));
      for (let p = 0; p < cap; p++) {
        const angle = fr(p * inv);
        data[p * half + i] = Math.cos(angle);
        data[cap * half + p * half + i] = Math.sin(angle);
      }
    }
    const made = { buf: this.upload(data), positions: cap, sinOffset: cap * half };
    this.tables.set(key, made);
    return made;
  }
}

export type RopeTableSet<B> = RopeTables<B>;

export const ropeTables = {
  create: <B>(upload: (data: Float32Array) => B, release: (b: B) => void): RopeTableSet<B> => new RopeTables<B>(upload, release),
} as const;
