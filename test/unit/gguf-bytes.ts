/** A byte-level GGUF builder for tests: writes fields exactly as the GGUF v3 spec lays them out. */
export class GgufBytes {
  private readonly out: number[] = [];
  /** Offsets of every u32 and u64 field written, for targeted corruption. */
  readonly u32At: number[] = [];
  readonly u64At: number[] = [];

  get length(): number {
    return this.out.length;
  }

  u8(v: number): this {
    this.out.push(v & 0xff);
    return this;
  }

  u32(v: number): this {
    this.u32At.push(this.out.length);
    for (let i = 0; i < 4; i++) this.out.push((v >>> (8 * i)) & 0xff);
    return this;
  }

  u64(v: number | bigint): this {
    this.u64At.push(this.out.length);
    const b = BigInt.asUintN(64, BigInt(v));
    for (let i = 0n; i < 8n; i++) this.out.push(Number((b >> (8n * i)) & 0xffn));
    return this;
  }

  f32(v: number): this {
    const dv = new DataView(new ArrayBuffer(4));
    dv.setFloat32(0, v, true);
    for (let i = 0; i < 4; i++) this.out.push(dv.getUint8(i));
    return this;
  }

  str(s: string): this {
    const b = new TextEncoder().encode(s);
    this.u64(b.length);
    for (const x of b) this.out.push(x);
    return this;
  }

  raw(bytes: ArrayLike<number>): this {
    for (let i = 0; i < bytes.length; i++) this.out.push(bytes[i] ?? 0);
    return this;
  }

  padTo(alignment: number): this {
    while (this.out.length % alignment) this.out.push(0);
    return this;
  }

  bytes(): Uint8Array {
    return Uint8Array.from(this.out);
  }
}

/** Field offsets of the file `tinyGguf` builds, for targeted corruption. */
export interface TinyLayout {
  tensorCount: number;
  kvCount: number;
  firstKeyLength: number;
  arrayCount: number;
  secondTensorOffset: number;
  secondTensorType: number;
  dataOffset: number;
}

/**
 * A small valid GGUF v3: 4 KV pairs (string, u32, array<string>, array<array<i32>>), tensors
 * `a` F32 [4, 2] and `b` Q8_0 [32] at offsets 0 and 32, alignment 32.
 */
export function tinyGguf(): { bytes: Uint8Array; layout: TinyLayout } {
  const g = new GgufBytes().u32(0x46554747).u32(3);
  const tensorCount = g.length;
  g.u64(2);
  const kvCount = g.length;
  g.u64(4);
  const firstKeyLength = g.length;
  g.str('general.architecture').u32(8).str('llama');
  g.str('test.count').u32(4).u32(7);
  g.str('test.words').u32(9).u32(8);
  const arrayCount = g.length;
  g.u64(3).str('x').str('yz').str('');
  g.str('test.nested').u32(9).u32(9).u64(2).u32(5).u64(1).u32(0xffffffff).u32(5).u64(0);
  g.str('a').u32(2).u64(4).u64(2).u32(0).u64(0);
  g.str('b').u32(1).u64(32).u32(8);
  const secondTensorOffset = g.length;
  g.u64(32);
  const secondTensorType = secondTensorOffset - 4;
  g.padTo(32);
  const dataOffset = g.length;
  for (let i = 0; i < 8; i++) g.f32(i + 0.5);
  g.u8(0x00).u8(0x3c); // Q8_0 d = 1.0
  for (let i = 0; i < 32; i++) g.u8(i - 16);
  g.padTo(32);
  return { bytes: g.bytes(), layout: { tensorCount, kvCount, firstKeyLength, arrayCount, secondTensorOffset, secondTensorType, dataOffset } };
}
